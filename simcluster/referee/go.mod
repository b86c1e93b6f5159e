module vimana.host/simcluster/referee

go 1.19

require sigs.k8s.io/structured-merge-diff/v4 v4.1.2

require (
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/modern-go/concurrent v0.0.0 // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)

replace (
	github.com/json-iterator/go => ../../target/referee-build/json-iterator
	github.com/modern-go/concurrent => ../../target/referee-build/modern-go-concurrent
	github.com/modern-go/reflect2 => ../../target/referee-build/modern-go-reflect2
	gopkg.in/yaml.v2 => ../../target/referee-build/yaml.v2
	sigs.k8s.io/structured-merge-diff/v4 => ../../target/referee-build/structured-merge-diff
)

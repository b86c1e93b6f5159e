//! `xtask generate`: writes a synthetic repository of any size for benchmarks:
//! one Vimana, `domains` Domains with `servers` Servers each, `versions` Components per Server,
//! half of the Components bound to one of a few Kumori modules written under `components/`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `xtask generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to write (created; existing files of the same names are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of Domains.
    #[arg(long, default_value_t = 10)]
    pub domains: usize,
    /// Servers per Domain.
    #[arg(long, default_value_t = 10)]
    pub servers: usize,
    /// Components (versions) per Server.
    #[arg(long, default_value_t = 3)]
    pub versions: usize,
    /// Shift the weights of every n-th Server to its newest version and add a version to it
    /// (0: none): a change to diff against the unmodified repository.
    #[arg(long, default_value_t = 0)]
    pub bump_every: usize,
}

/// The Kumori modules of a generated repository: folder under `components/`, component name,
/// image name. Modeled on `fixtures/kumori/adder`: interface with config defaults and a secret,
/// implementation with an image from a hub, env, files and probes.
const MODULES: [(&str, &str, &str); 3] = [
    ("gateway", "Gateway", "gateway"),
    ("catalog", "Catalog", "catalog"),
    ("billing", "Billing", "billing"),
];

/// Log levels the bound Components cycle through.
const LOG_LEVELS: [&str; 3] = ["debug", "info", "warn"];

/// The files of one Kumori module: `(file name, text)`.
fn module_files(folder: &str, component: &str, image: &str) -> [(String, String); 4] {
    let manifest = format!(
        "{{\n  \"spec\": \"kumori/module/v1\",\n  \"module\": \"bench.example/{folder}\",\n  \"kumori\": \"1.0.0\",\n  \"version\": \"1.0.0\",\n  \"requires\": []\n}}\n"
    );
    let interface = format!(
        r#"// The interface of {component}: a server, its port and log level, and a secret.
package {folder}

import "kumori"

component {component} {{
    srv {{
        server {{
            api {{
                protocol "http"
                port 8080
            }}
        }}
    }}

    config {{
        Port: number = 8080
        LogLevel: "debug" | "info" | "warn" = "info"
        Greeting?: string
    }}

    resource {{
        Secret: kumori.Secret
    }}
}}
"#
    );
    let implementation = format!(
        r#"// The implementation of {component}: one container, its size, environment, files and probes.
package {folder}

import (
    "kumori"
    "io"
    "strconv"
)

var (
    Registry = "registry.example.org/bench"
)

component {component} {{
    size {{
        bandwidth 100M
        mincpu 100m
    }}

    code {{
        main {{
            image {{
                hub {{
                    name var.Registry
                }}
                tag "{image}:1.0.0"
            }}
            cmd ["/{image}", "--port", string(interface.config.Port)]

            size {{
                memory 128Mi
                cpu 500m
                mincpu 100m
            }}

            env {{
                PORT interface.config.Port
                LOG_LEVEL interface.config.LogLevel
                LISTEN strconv.Concat(["0.0.0.0:", string(interface.config.Port)])
                DB_PASSWORD {{
                    secret "Secret"
                }}
            }}

            fs {{
                "/etc/{image}/config.json" {{
                    data strconv.JSON({{ port interface.config.Port, level interface.config.LogLevel }})
                    format "json"
                }}
                "/etc/{image}/motd" io.Open("motd.txt")
                "/run/secrets/db" {{
                    secret "Secret"
                    mode 0o400
                }}
            }}
        }}
    }}

    probe {{
        main {{
            liveness {{
                protocol {{
                    http {{
                        port self.code.main.env.PORT
                        path "/healthz"
                    }}
                }}
                startupGraceWindow {{
                    unit "ms"
                    duration 5000
                    probe true
                }}
                frequency "10s"
                timeout 5
            }}
            readiness {{
                protocol {{
                    tcp {{
                        port interface.config.Port
                    }}
                }}
            }}
        }}
    }}
}}
"#
    );
    [
        ("kumori.mod.json".into(), manifest),
        (format!("{folder}.h.kumori"), interface),
        (format!("{folder}.kumori"), implementation),
        ("motd.txt".into(), format!("Welcome to {component}.\n")),
    ]
}

/// A domain id made from a number: 32 lowercase hex characters.
fn domain_id(d: usize) -> String {
    format!("{:032x}", 0x5eed_0000_0000_0000_u128 + d as u128)
}

/// Writes the repository: the Kumori modules, then one file per Domain with its Servers and
/// Components.
pub fn run(args: &Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for (folder, component, image) in MODULES {
        let dir = args.out.join("components").join(folder);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in module_files(folder, component, image) {
            std::fs::write(dir.join(name), text)?;
        }
    }
    std::fs::write(
        args.out.join("vimana.yaml"),
        "apiVersion: api.vimana.host/v1alpha1\nkind: Vimana\nmetadata: {name: edge}\nspec: {regions: [eu-west-1, us-east-1]}\n",
    )?;
    let mut objects = 1;
    for d in 0..args.domains {
        let id = domain_id(d);
        let mut text = String::new();
        let _ = write!(
            text,
            "apiVersion: api.vimana.host/v1alpha1\nkind: Domain\nmetadata: {{name: domain-{d}}}\nspec:\n  id: {id}\n  vimana: edge\n  aliases: [d{d}.example.org]\n"
        );
        objects += 1;
        for s in 0..args.servers {
            let bumped =
                args.bump_every > 0 && (d * args.servers + s).is_multiple_of(args.bump_every);
            let versions = args.versions + usize::from(bumped);
            let newest = versions - 1;
            // Traffic on the two newest versions, 90/10; a bumped server moves all of it to the
            // new newest version.
            let weights: Vec<String> = (0..versions)
                .filter_map(|v| {
                    let w = match (bumped, newest - v) {
                        (true, 0) => 100,
                        (true, _) => return None,
                        (false, 0) => 10,
                        (false, 1) => 90,
                        (false, _) => return None,
                    };
                    Some(format!("1.{v}.0: {w}"))
                })
                .collect();
            let weights = if args.versions == 1 && !bumped {
                "1.0.0: 100".to_owned()
            } else {
                weights.join(", ")
            };
            let _ = write!(
                text,
                "---\napiVersion: api.vimana.host/v1alpha1\nkind: Server\nmetadata: {{name: d{d}-s{s}}}\nspec:\n  id: s{s}\n  domain: {id}\n  services: [svc{s}.v1.Api]\n  versionWeights: {{{weights}}}\n"
            );
            objects += 1;
            for v in 0..versions {
                let _ = write!(
                    text,
                    "---\napiVersion: api.vimana.host/v1alpha1\nkind: Component\nmetadata: {{name: d{d}-s{s}-1-{v}-0}}\nspec: {{domain: {id}, server: s{s}, version: 1.{v}.0, "
                );
                // Every second Component is bound to a Kumori module, with config values that
                // differ from one Component to the next. Chosen from the Component's own place,
                // so that a bumped repository binds its existing Components as the base does.
                let n = (d * args.servers + s) * 8 + v;
                if (s + v) % 2 == 1 {
                    let (folder, component, _) = MODULES[s % MODULES.len()];
                    let port = 8000 + n % 1000;
                    let level = LOG_LEVELS[n / 2 % LOG_LEVELS.len()];
                    let _ = writeln!(
                        text,
                        "kumori: {{module: components/{folder}, component: {component}, config: {{Port: {port}, LogLevel: {level}}}, resource: {{Secret: d{d}-s{s}-db}}}}}}"
                    );
                } else {
                    let _ = writeln!(text, "image: \"registry.example.org/d{d}/s{s}:1.{v}.0\"}}");
                }
                objects += 1;
            }
        }
        std::fs::write(args.out.join(format!("domain-{d}.yaml")), text)?;
    }
    eprintln!("wrote {objects} objects to {}", args.out.display());
    Ok(())
}

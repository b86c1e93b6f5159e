// Command referee runs sequences of server-side apply operations through the real
// structured-merge-diff library (sigs.k8s.io/structured-merge-diff/v4, the code kube-apiserver
// uses for managedFields), so that simcluster's implementation can be compared with it.
//
// Input (stdin, one JSON document):
//
//	{"schema": "<structured-merge-diff schema YAML>", "type": "<type name in it>",
//	 "sequences": [[{"op": "apply"|"force-apply"|"update", "manager": "a", "object": {...}}, ...]]}
//
// Output (stdout): {"results": [[step, ...], ...]}, one step per operation:
//
//	{"object": <the object after the step, or null>,
//	 "managedFields": [{"manager", "operation", "fieldsV1"}] (sorted by manager, operation),
//	 "conflicts": [{"manager", "operation", "path"}] (sorted; a refused apply changes nothing),
//	 "error": "<anything else that failed>"}
//
// The layers kube-apiserver puts around the library (k8s.io/apiserver's fieldmanager) that
// matter here are reproduced: manager identifiers per manager and operation (Apply managers
// without apiVersion), Update recorded as a "current-operation" merged into the manager's entry
// (managedfieldsupdater.go), the server's metadata stripped from every set (stripmeta.go), and
// no tracking of updates to an object that has no managedFields (skipnonapplied.go).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v4/merge"
	"sigs.k8s.io/structured-merge-diff/v4/typed"
)

type op struct {
	Op      string                 `json:"op"`
	Manager string                 `json:"manager"`
	Object  map[string]interface{} `json:"object"`
}

type input struct {
	Schema    string `json:"schema"`
	Type      string `json:"type"`
	Sequences [][]op `json:"sequences"`
}

type entry struct {
	Manager   string          `json:"manager"`
	Operation string          `json:"operation"`
	FieldsV1  json.RawMessage `json:"fieldsV1"`
}

type conflict struct {
	Manager   string `json:"manager"`
	Operation string `json:"operation"`
	Path      string `json:"path"`
}

type step struct {
	Object        interface{} `json:"object"`
	ManagedFields []entry     `json:"managedFields"`
	Conflicts     []conflict  `json:"conflicts"`
	Error         string      `json:"error,omitempty"`
}

// A single version: no conversion.
type converter struct{}

func (converter) Convert(v *typed.TypedValue, _ fieldpath.APIVersion) (*typed.TypedValue, error) {
	return v, nil
}
func (converter) IsMissingVersionError(error) bool { return false }

const version = fieldpath.APIVersion("v1")

// key is the manager identifier: apiserver's BuildManagerIdentifier encodes the managedFields
// entry without fieldsV1 and time, and without apiVersion for Apply.
func key(manager, operation string) string {
	if operation == "Apply" {
		b, _ := json.Marshal(struct {
			Manager   string `json:"manager"`
			Operation string `json:"operation"`
		}{manager, operation})
		return string(b)
	}
	b, _ := json.Marshal(struct {
		Manager    string `json:"manager"`
		Operation  string `json:"operation"`
		APIVersion string `json:"apiVersion"`
	}{manager, operation, string(version)})
	return string(b)
}

func decodeKey(k string) (string, string) {
	var e struct {
		Manager   string `json:"manager"`
		Operation string `json:"operation"`
	}
	_ = json.Unmarshal([]byte(k), &e)
	return e.Manager, e.Operation
}

// stripSet is stripmeta.go's: fields the server owns, never part of a manager's set.
var stripSet = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

func strip(managers fieldpath.ManagedFields) {
	for k, vs := range managers {
		managers[k] = fieldpath.NewVersionedSet(vs.Set().Difference(stripSet), vs.APIVersion(), vs.Applied())
	}
}

func dropEmpty(managers fieldpath.ManagedFields) {
	for k, vs := range managers {
		if vs.Set().Empty() {
			delete(managers, k)
		}
	}
}

func copyManagers(m fieldpath.ManagedFields) fieldpath.ManagedFields {
	out := fieldpath.ManagedFields{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func run(pt typed.ParseableType, ops []op) []step {
	steps := []step{}
	var live *typed.TypedValue
	managers := fieldpath.ManagedFields{}
	empty, err := pt.FromUnstructured(map[string]interface{}{})
	if err != nil {
		panic(err)
	}
	for _, o := range ops {
		st := step{Conflicts: []conflict{}}
		var target interface{} = o.Object
		if o.Op == "update" {
			// An update is a JSON merge patch (RFC 7386) of the live object.
			var current interface{} = map[string]interface{}{}
			if live != nil {
				current = deepCopy(live.AsValue().Unstructured())
			}
			target = mergePatch(current, deepCopy(o.Object))
		}
		obj, err := pt.FromUnstructured(target)
		if err != nil {
			st.Error = err.Error()
		} else {
			base := live
			if base == nil {
				base = empty
			}
			switch o.Op {
			case "apply", "force-apply":
				m := copyManagers(managers)
				newObj, m, err := (&merge.Updater{Converter: converter{}}).Apply(base, obj, version, m, key(o.Manager, "Apply"), o.Op == "force-apply")
				if _, ok := err.(merge.Conflicts); ok {
					// 4.1.2's ConflictsFromManagers keeps the path Set.Iterate hands it,
					// a buffer the iteration reuses, so several conflicts of one manager
					// print the same path. The conflicting paths are the intersection
					// update() computes (merge/update.go): each other manager's set with
					// what the forced apply adds or modifies.
					forced, _, ferr := (&merge.Updater{Converter: converter{}}).Apply(base, obj, version, copyManagers(managers), key(o.Manager, "Apply"), true)
					if ferr != nil {
						st.Error = ferr.Error()
					} else if forced != nil {
						cmp, cerr := base.Compare(forced)
						if cerr != nil {
							panic(cerr)
						}
						changed := cmp.Modified.Union(cmp.Added)
						for k, vs := range managers {
							if k == key(o.Manager, "Apply") {
								continue
							}
							mgr, operation := decodeKey(k)
							vs.Set().Intersection(changed).Iterate(func(p fieldpath.Path) {
								st.Conflicts = append(st.Conflicts, conflict{mgr, operation, p.String()})
							})
						}
					}
				} else if err != nil {
					st.Error = err.Error()
				} else {
					strip(m)
					dropEmpty(m)
					managers = m
					if newObj != nil {
						live = newObj
					} else if live == nil {
						live = base
					}
				}
			case "update":
				if live != nil && len(managers) == 0 {
					// skipnonapplied.go: an update of an object without managedFields is
					// not tracked.
					live = obj
					break
				}
				const self = "current-operation"
				m := copyManagers(managers)
				newObj, m, err := (&merge.Updater{Converter: converter{}}).Update(base, obj, version, m, self)
				if err != nil {
					st.Error = err.Error()
					break
				}
				strip(m)
				dropEmpty(m)
				k := key(o.Manager, "Update")
				if vs, ok := m[self]; ok {
					delete(m, self)
					if previous, ok := m[k]; ok {
						m[k] = fieldpath.NewVersionedSet(vs.Set().Union(previous.Set()), vs.APIVersion(), vs.Applied())
					} else {
						m[k] = vs
					}
				}
				managers = m
				live = newObj
			default:
				st.Error = "unknown op " + o.Op
			}
		}
		if live != nil {
			// The server drops the nulls the library leaves where an apply emptied a map or
			// list before it stores the object: apiextensions-apiserver's
			// PruneNonNullableNullsWithoutDefaults (in the custom resource storage codec),
			// and for built-in kinds the typed object (nil maps and slices are omitempty).
			// The next step starts from what was stored.
			stored := dropNulls(deepCopy(live.AsValue().Unstructured()))
			if typed, err := pt.FromUnstructured(stored); err != nil {
				st.Error = err.Error()
			} else {
				live = typed
			}
			st.Object = stored
		}
		keys := []string{}
		for k := range managers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b, err := managers[k].Set().ToJSON()
			if err != nil {
				panic(err)
			}
			mgr, operation := decodeKey(k)
			st.ManagedFields = append(st.ManagedFields, entry{mgr, operation, b})
		}
		sort.Slice(st.ManagedFields, func(i, j int) bool {
			a, b := st.ManagedFields[i], st.ManagedFields[j]
			return a.Manager < b.Manager || (a.Manager == b.Manager && a.Operation < b.Operation)
		})
		sort.Slice(st.Conflicts, func(i, j int) bool {
			a, b := st.Conflicts[i], st.Conflicts[j]
			if a.Manager != b.Manager {
				return a.Manager < b.Manager
			}
			if a.Operation != b.Operation {
				return a.Operation < b.Operation
			}
			return a.Path < b.Path
		})
		steps = append(steps, st)
	}
	return steps
}

func deepCopy(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// dropNulls removes null members of maps (no field of the compared schemas is nullable).
func dropNulls(v interface{}) interface{} {
	switch v := v.(type) {
	case map[string]interface{}:
		for k, c := range v {
			if c == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(c)
			}
		}
	case []interface{}:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}

// mergePatch applies an RFC 7386 JSON merge patch.
func mergePatch(target, patch interface{}) interface{} {
	p, ok := patch.(map[string]interface{})
	if !ok {
		return patch
	}
	t, ok := target.(map[string]interface{})
	if !ok {
		t = map[string]interface{}{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "referee: reading input:", err)
		os.Exit(2)
	}
	parser, err := typed.NewParser(typed.YAMLObject(in.Schema))
	if err != nil {
		fmt.Fprintln(os.Stderr, "referee: schema:", err)
		os.Exit(2)
	}
	pt := parser.Type(in.Type)
	if !pt.IsValid() {
		fmt.Fprintln(os.Stderr, "referee: no type", in.Type)
		os.Exit(2)
	}
	results := [][]step{}
	for _, seq := range in.Sequences {
		results = append(results, run(pt, seq))
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]interface{}{"results": results}); err != nil {
		fmt.Fprintln(os.Stderr, "referee: writing output:", err)
		os.Exit(2)
	}
}

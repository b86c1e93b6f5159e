//! Hostile and oversized Kumori sources (issue 15), one test per defect: each ends in a
//! diagnostic with its code and location, quickly, on a 2 MiB stack like the daemon's blocking
//! threads, and never in a crash.

use std::time::{Duration, Instant};

use render::kumori::render_binding;
use render::{Diagnostics, Limits, MemTree, SourceError, SourceTree, yaml};

use super::harness::binding_of;

const MANIFEST: &str =
    r#"{"spec": "kumori/module/v1", "module": "example.org/shop", "kumori": "1.0.0"}"#;

const INTERFACE: &str = "package shop\n\ncomponent Cart {\n}\n";

const YAML: &str = "apiVersion: api.vimana.host/v1alpha1
kind: Component
metadata: { name: cart-1-0-0 }
spec:
  domain: \"0123456789abcdef0123456789abcdef\"
  server: cart
  version: 1.0.0
  kumori:
    module: ..
    component: Cart
";

/// A module whose implementation has `vars` at the top and `env` in its container (line 8 is
/// the first line of `vars`).
fn module(vars: &str, env: &str) -> MemTree {
    let implementation = format!(
        "package shop

import (
    \"kumori\"
    \"io\"
    \"strconv\"
)
{vars}
component Cart {{
    size {{
        bandwidth 10M
        mincpu 100m
    }}
    code {{
        main {{
            image \"registry.example.org/cart:1\"
            size {{
                memory 64Mi
                cpu 200m
            }}
            env {{
                {env}
            }}
        }}
    }}
}}
"
    );
    MemTree::new()
        .with("kumori.mod.json", MANIFEST)
        .with("cart.h.kumori", INTERFACE)
        .with("cart.kumori", implementation)
        .with("deploy/cart.yaml", YAML)
}

/// What a render gave: whether it rendered, the diagnostics as text, their codes, and the time.
struct Outcome {
    rendered: bool,
    text: String,
    codes: Vec<&'static str>,
    took: Duration,
}

/// Renders the binding of `deploy/cart.yaml` within `limits` on a thread with the stack of a
/// tokio blocking thread (2 MiB), as the daemon does.
fn render_on_small_stack(tree: impl SourceTree + Send + 'static, limits: Limits) -> Outcome {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let start = Instant::now();
            let text = String::from_utf8(tree.read("deploy/cart.yaml").unwrap()).unwrap();
            let parsed = yaml::parse(&text);
            let binding = binding_of("deploy/cart.yaml", &parsed.documents[0].root);
            let mut ds = Diagnostics::default();
            ds.files.add("deploy/cart.yaml", &text);
            let rendered = render_binding(&tree, &binding, &limits, &mut ds).is_some();
            let took = start.elapsed();
            crate::help::assert_helpful(&ds.items);
            let mut codes: Vec<_> = ds.items.iter().map(|d| d.code).collect();
            codes.dedup();
            Outcome {
                rendered,
                text: ds.to_text(&|p| p.to_owned(), false),
                codes,
                took,
            }
        })
        .unwrap()
        .join()
        .expect("no crash on a 2 MiB stack")
}

fn render(tree: impl SourceTree + Send + 'static) -> Outcome {
    render_on_small_stack(tree, Limits::default())
}

/// Checks the module at the root of `tree` (check mode) on a 2 MiB stack.
fn check_on_small_stack(tree: MemTree, limits: Limits) -> Outcome {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let start = Instant::now();
            let mut ds = Diagnostics::default();
            let ok = render::kumori::check_module(&tree, "", &limits, &mut ds);
            let took = start.elapsed();
            crate::help::assert_helpful(&ds.items);
            let mut codes: Vec<_> = ds.items.iter().map(|d| d.code).collect();
            codes.dedup();
            Outcome {
                rendered: ok,
                text: ds.to_text(&|p| p.to_owned(), false),
                codes,
                took,
            }
        })
        .unwrap()
        .join()
        .expect("no crash on a 2 MiB stack")
}

/// Asserts that the outcome is exactly one error `code` shown at `location`, within 5 s.
fn refused(o: &Outcome, code: &str, location: &str) {
    assert!(!o.rendered, "rendered although {code} was expected");
    assert_eq!(o.codes, vec![code], "{}", o.text);
    assert!(o.text.contains(location), "not at {location}:\n{}", o.text);
    assert!(o.text.contains("= help:"), "{}", o.text);
    assert!(o.took < Duration::from_secs(5), "took {:?}", o.took);
}

/// `var ( V0 = "x" \n V1 = var.V0 ... Vn = var.V(n-1) )` and the env that uses `Vn`.
fn var_chain(n: usize) -> MemTree {
    let mut vars = String::from("var (\n    V0 = \"x\"\n");
    for i in 1..=n {
        vars.push_str(&format!("    V{i} = var.V{}\n", i - 1));
    }
    vars.push_str(")\n");
    module(&vars, &format!("TOP var.V{n}"))
}

#[test]
fn var_chain_of_2000_is_an_error_not_a_stack_overflow() {
    let o = render(var_chain(2_000));
    // The 257th reference of the chain, counted from the env that starts it.
    refused(&o, "kumori-reference-chain", "cart.kumori:");
    assert!(o.text.contains("more than 256 references"), "{}", o.text);
}

#[test]
fn var_chain_of_10000_is_an_error_not_a_stack_overflow() {
    let o = render(var_chain(10_000));
    refused(&o, "kumori-reference-chain", "cart.kumori:");
}

#[test]
fn var_chain_just_under_the_references_limit_renders() {
    let o = render(var_chain(250));
    assert!(o.rendered, "{}", o.text);
}

#[test]
fn nesting_of_100000_lists_structs_and_calls_is_an_error_not_a_stack_overflow() {
    for (open, close) in [("[", "]"), ("{ a ", "}"), ("string(", ")")] {
        let deep = format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
        let o = render(module(
            &format!("var (\n    Deep = {deep}\n)\n"),
            "TOP \"x\"",
        ));
        refused(&o, "kumori-too-deep", "cart.kumori:9:");
        // Unclosed: one error for the depth, then one per open bracket at most `depth` deep.
        let unclosed = format!("{}1", open.repeat(100_000));
        let o = render(module(
            &format!("var (\n    Deep = {unclosed}\n)\n"),
            "TOP \"x\"",
        ));
        assert!(!o.rendered);
        assert!(o.codes.contains(&"kumori-too-deep"), "{}", o.text);
        assert!(o.took < Duration::from_secs(5), "took {:?}", o.took);
    }
}

#[test]
fn nesting_split_across_vars_is_bounded_by_the_evaluator() {
    // Each var nests 100 levels around the one before: 200 vars, 20,000 levels in all.
    let mut vars = String::from("var (\n    L0 = 1\n");
    for i in 1..=200 {
        vars.push_str(&format!(
            "    L{i} = {}var.L{}{}\n",
            "[".repeat(100),
            i - 1,
            "]".repeat(100)
        ));
    }
    vars.push_str(")\n");
    let o = render(module(&vars, "TOP var.L200"));
    assert!(!o.rendered);
    assert_eq!(o.codes[0], "kumori-too-deep", "{}", o.text);
    assert!(o.text.contains("--> cart.kumori:"), "{}", o.text);
    assert!(o.took < Duration::from_secs(5), "took {:?}", o.took);
}

#[test]
fn doubling_type_aliases_26_stop_at_union_width() {
    let mut lib = String::from("package lib\n\nlibrary\n\nalias U0 \"a\" | \"b\"\n");
    for i in 1..=26 {
        lib.push_str(&format!("alias U{i} U{} | U{}\n", i - 1, i - 1));
    }
    let tree = module("", "TOP \"x\"").with("lib/types.kumori", lib);
    let o = check_on_small_stack(tree, Limits::default());
    // U10 has 2,048 alternatives: refused there, the aliases built on it with it.
    refused(&o, "kumori-union-too-wide", "lib/types.kumori:15:7");
    assert!(o.text.contains("`lib.U10`"), "{}", o.text);
}

#[test]
fn doubling_concat_30_stops_at_string_bytes() {
    let mut vars = String::from("var (\n    S0 = \"0123456789abcdef\"\n");
    for i in 1..=30 {
        vars.push_str(&format!(
            "    S{i} = strconv.Concat([var.S{}, var.S{}])\n",
            i - 1,
            i - 1
        ));
    }
    vars.push_str(")\n");
    let o = render(module(&vars, "TOP var.S30"));
    // 16 bytes doubled 17 times is 2 MiB: the list of S17, on line 9 + 17.
    refused(&o, "kumori-string-too-long", "cart.kumori:26:26");
}

#[test]
fn doubling_lists_30_stop_at_list_items() {
    let mut vars = String::from("var (\n    L0 = [1, 2]\n");
    for i in 1..=30 {
        vars.push_str(&format!("    L{i} = [var.L{}, var.L{}]\n", i - 1, i - 1));
    }
    vars.push_str(")\n");
    let o = render(module(&vars, "TOP strconv.JSON(var.L30)"));
    // L15 holds 2^17 - 1 + ... values: over 100,000.
    refused(&o, "kumori-list-too-long", "cart.kumori:");
}

#[test]
fn a_large_value_used_many_times_stops_at_the_copy_budget() {
    // 60,000 items, within `listItems`, copied in 40 places (for one field each): 2.4 million
    // copies.
    let mut vars = String::from("var (\n    Big = { x 1, big [");
    vars.push_str(&"1,".repeat(60_000));
    vars.push_str("] }\n)\n");
    let uses: Vec<String> = (0..40).map(|i| format!("E{i} var.Big.x")).collect();
    let o = render(module(&vars, &uses.join("\n                ")));
    refused(&o, "kumori-too-many-copies", "cart.kumori:");
}

/// A tree that says its file `huge` has `size` bytes and refuses to read it.
struct Huge {
    inner: MemTree,
    huge: &'static str,
    size: u64,
}

impl SourceTree for Huge {
    fn files(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let mut files = self.inner.files(dir)?;
        files.push(self.huge.to_owned());
        files.sort();
        Ok(files)
    }

    fn size(&self, path: &str) -> Result<u64, SourceError> {
        if path == self.huge {
            return Ok(self.size);
        }
        self.inner.size(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        assert_ne!(path, self.huge, "an oversized file is never read");
        self.inner.read(path)
    }

    fn is_dir(&self, path: &str) -> bool {
        self.inner.is_dir(path)
    }
}

#[test]
fn io_open_of_64_mib_is_refused_before_reading() {
    let tree = Huge {
        inner: module("", "TOP io.Open(\"big.txt\")"),
        huge: "big.txt",
        size: 64 << 20,
    };
    let o = render(tree);
    refused(&o, "kumori-io-too-large", "cart.kumori:22:21");
    assert!(o.text.contains("64 MiB"), "{}", o.text);
}

#[test]
fn io_open_of_a_real_64_mib_file_is_refused_quickly() {
    let tree = module("", "TOP io.Open(\"big.txt\")").with("big.txt", vec![b'a'; 64 << 20]);
    let o = render(tree);
    refused(&o, "kumori-io-too-large", "cart.kumori:22:21");
}

#[test]
fn kumori_file_over_file_bytes_is_refused_before_reading() {
    let tree = Huge {
        inner: module("", "TOP \"x\""),
        huge: "lib/huge.kumori",
        size: 1 << 30,
    };
    let o = render(tree);
    refused(&o, "kumori-file-too-large", "lib/huge.kumori:1:1");
}

/// A library of `n` aliases, each naming the one before.
fn alias_chain(n: usize) -> MemTree {
    let mut lib = String::from("package lib\n\nlibrary\n\nalias T0 string\n");
    for i in 1..=n {
        lib.push_str(&format!("alias T{i} T{}\n", i - 1));
    }
    module("", "TOP \"x\"").with("lib/types.kumori", lib)
}

#[test]
fn type_alias_chain_of_10000_is_refused_in_linear_time() {
    let o = check_on_small_stack(alias_chain(10_000), Limits::default());
    // T256 is the 257th declaration of the chain (line 5 + 256).
    refused(&o, "kumori-reference-chain", "lib/types.kumori:261:7");
    assert!(
        o.took < Duration::from_secs(1),
        "took {:?}: not linear",
        o.took
    );
}

#[test]
fn type_alias_chain_just_under_the_references_limit_checks() {
    let o = check_on_small_stack(alias_chain(250), Limits::default());
    assert!(o.rendered, "{}", o.text);
}

#[test]
fn type_alias_chain_of_10000_with_a_higher_limit_checks_in_linear_time() {
    let limits = Limits {
        references: 20_000,
        ..Limits::default()
    };
    let o = check_on_small_stack(alias_chain(10_000), limits);
    assert!(o.rendered, "{}", o.text);
    assert!(o.took < Duration::from_secs(1), "took {:?}", o.took);
}

#[test]
fn type_alias_cycle_of_10000_is_reported_in_linear_time() {
    let mut lib = String::from("package lib\n\nlibrary\n\n");
    for i in 0..10_000 {
        lib.push_str(&format!("alias C{i} C{} | string\n", (i + 1) % 10_000));
    }
    let o = check_on_small_stack(
        module("", "TOP \"x\"").with("lib/types.kumori", lib),
        Limits::default(),
    );
    assert!(!o.rendered);
    assert_eq!(o.codes, vec!["kumori-type-cycle"], "{}", &o.text[..2000]);
    assert!(o.took < Duration::from_secs(2), "took {:?}", o.took);
}

#[test]
fn a_union_that_names_itself_is_a_cycle_not_a_stack_overflow() {
    let lib = "package lib\n\nlibrary\n\nalias A A | string\n";
    let implementation_env = "TOP \"x\"";
    let tree = module("", implementation_env).with("lib/types.kumori", lib);
    let o = check_on_small_stack(tree, Limits::default());
    refused(&o, "kumori-type-cycle", "lib/types.kumori:5:7");
}

#[test]
fn smaller_limits_are_honoured() {
    let limits = Limits {
        depth: 8,
        ..Limits::default()
    };
    // Each var nests 5 levels (within 8); together they nest 10.
    let vars = "var (\n    A = [[[[[1]]]]]\n    B = [[[[var.A]]]]\n)\n";
    let o = render_on_small_stack(module(vars, "TOP strconv.JSON(var.B)"), limits);
    refused(&o, "kumori-too-deep", "cart.kumori:10:");
    assert!(o.text.contains("deeper than 8 levels"), "{}", o.text);
}

#[test]
fn the_deepest_evaluation_the_limits_allow_fits_a_2_mib_stack() {
    // Each var is a struct whose field names the one before through it: two levels of
    // evaluation per reference, none of value, so only the evaluator's own bound stops it.
    let mut vars = String::from("var (\n    V0 = { x { y \"end\" } }\n");
    for i in 1..=250 {
        vars.push_str(&format!("    V{i} = {{ x {{ y var.V{}.x.y }} }}\n", i - 1));
    }
    vars.push_str(")\n");
    let o = render(module(&vars, "TOP var.V250.x.y"));
    refused(&o, "kumori-too-deep", "cart.kumori:");
    assert!(
        o.text.contains("evaluation nests deeper than 384"),
        "{}",
        o.text
    );
}

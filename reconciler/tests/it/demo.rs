//! `reconciler demo`, run as the README's first command is.

use super::{reconciler, root, stdout};

#[test]
fn the_demo_tells_the_whole_story_and_exits_0() {
    let out = reconciler(&["demo"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", super::stderr(&out));
    for expected in [
        "Summary: 15 to create",
        "POST /hooks/github (signed push of main): 202 Accepted",
        "step 1/3 (25%), baking",
        "step 3/3 (100%), baking",
        "Succeeded",
        "rolled back automatically: 1.3.0 never received traffic",
        "phase: Aborted",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn the_demo_embeds_every_file_of_its_fixtures() {
    let mut on_disk = Vec::new();
    for dir in ["fixtures/demo", "fixtures/kumori/adder"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    on_disk.push(p.strip_prefix(root()).unwrap().display().to_string());
                }
            }
        }
    }
    on_disk.sort();
    let mut embedded: Vec<String> = reconciler::commands::demo::FILES
        .iter()
        .map(|(p, _)| (*p).to_owned())
        .collect();
    embedded.sort();
    assert_eq!(embedded, on_disk);
}

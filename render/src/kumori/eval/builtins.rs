//! Calls: `string(x)`, `io.Open(path)`, `strconv.Concat`, `strconv.Format`, `strconv.JSON`, and
//! the constructors of distinct types (`kumori.Port("http")`).

use crate::limits::bytes_text;
use crate::source::{self, SourceError};

use super::{Evaluator, Size, V, Value, number_text, to_json};
use crate::kumori::ast::{DeclKind, Expr, Name, Span, path_text};
use crate::kumori::check::Checker;
use crate::kumori::module::ImportTarget;
use crate::kumori::types::{DeclId, Ty, not_imported};

/// The functions there are, for the help of an unknown one.
const FUNCTIONS: &str = "functions are `string(x)`, `io.Open`, `strconv.Concat`, `strconv.Format`, \
                         `strconv.JSON` and type constructors such as `kumori.Port(\"name\")`";

impl<'a> Evaluator<'a> {
    pub(super) fn call(&mut self, callee: &'a [Name], args: &'a [Expr], span: Span) -> Value {
        let file = span.file;
        let imports = &self.prog.file(file).imports;
        let pkg = self.prog.file(file).package;
        match callee {
            [f] if f.text == "string" => {
                let Some(a) = self.one_arg(args, span, "string") else {
                    return Value::new(V::Error, span);
                };
                self.stringify(a, span)
            }
            [f] => match self.env.lookup(pkg, &f.text) {
                Some(id) => self.construct(id, f, args, span),
                None => {
                    self.err(
                        "kumori-unknown-function",
                        f.span,
                        format!("unknown function `{}`", f.text),
                        "not a function",
                        FUNCTIONS,
                    );
                    Value::new(V::Error, span)
                }
            },
            [head, f] => match imports.get(&head.text).copied() {
                None => {
                    self.diags.push(not_imported(self.prog, head));
                    Value::new(V::Error, span)
                }
                Some(ImportTarget::Io) if f.text == "Open" => self.io_open(args, span),
                Some(ImportTarget::Strconv) if f.text == "Concat" => self.concat(args, span),
                Some(ImportTarget::Strconv) if f.text == "Format" => self.format(args, span),
                Some(ImportTarget::Strconv) if f.text == "JSON" => {
                    let Some(a) = self.one_arg(args, span, "strconv.JSON") else {
                        return Value::new(V::Error, span);
                    };
                    match to_json(&a, self.env) {
                        Some(j) => {
                            let v = Value::new(V::Str(j), span);
                            if !self.within(v.size, span) {
                                return Value::new(V::Error, span);
                            }
                            v
                        }
                        None => Value::new(V::Unknown(Ty::String), span),
                    }
                }
                Some(ImportTarget::Kumori) => match self.env.lookup(None, &f.text) {
                    Some(id) => self.construct(id, f, args, span),
                    None => self.unknown_function(head, f),
                },
                Some(ImportTarget::Package(p)) => match self.env.lookup(Some(p), &f.text) {
                    Some(id) => self.construct(id, f, args, span),
                    None => self.unknown_function(head, f),
                },
                Some(ImportTarget::Io | ImportTarget::Strconv) => self.unknown_function(head, f),
            },
            _ => {
                let whole = callee[0].span.to(callee[callee.len() - 1].span);
                self.err(
                    "kumori-unknown-function",
                    whole,
                    format!("unknown function `{}`", path_text(callee)),
                    "not a function",
                    FUNCTIONS,
                );
                Value::new(V::Error, span)
            }
        }
    }

    fn unknown_function(&mut self, head: &Name, f: &Name) -> Value {
        let help = match head.text.as_str() {
            "io" => "`io` provides `Open(path)`",
            "strconv" => {
                "`strconv` provides `Concat([]string)`, `Format(number, base)` and `JSON(value)`"
            }
            _ => "call a `type` declared in that package, such as `kumori.Port(\"name\")`",
        };
        self.err(
            "kumori-unknown-function",
            f.span,
            format!("`{}.{}` is not a function", head.text, f.text),
            "unknown function",
            help,
        );
        Value::new(V::Error, head.span.to(f.span))
    }

    fn one_arg(&mut self, args: &'a [Expr], span: Span, name: &str) -> Option<Value> {
        if args.len() != 1 {
            self.err(
                "kumori-wrong-arguments",
                span,
                format!("`{name}` takes one argument, {} given", args.len()),
                "wrong number of arguments",
                &format!("call it with one argument: `{name}(value)`"),
            );
            return None;
        }
        Some(self.eval(&args[0]))
    }

    fn construct(&mut self, id: DeclId, f: &Name, args: &'a [Expr], span: Span) -> Value {
        let decl = &self.env.decls[id];
        if decl.kind == DeclKind::Alias {
            let q = decl.qname.clone();
            self.err(
                "kumori-not-a-constructor",
                f.span,
                format!("`{q}` is an alias, not a distinct type: it has no constructor"),
                "alias",
                "only `type` declarations can be called; give a value of one of its alternatives, \
                 such as `kumori.Registered(\"name\")` for a volume",
            );
            return Value::new(V::Error, span);
        }
        let q = decl.qname.clone();
        let underlying = decl.ty.clone();
        let Some(arg) = self.one_arg(args, span, &q) else {
            return Value::new(V::Error, span);
        };
        let mut checker = Checker::new(self.prog, self.env, self.known);
        checker.check(&arg, &underlying, &format!("the argument of {q}"));
        self.diags.extend(checker.diags);
        // `kumori.Ephemeral(size)` (seen in public examples) is a volatile volume.
        let id = if id == self.known.ephemeral {
            self.known.volatile
        } else {
            id
        };
        let v = Value::new(V::Named(id, Box::new(arg)), span);
        if !self.within(v.size, span) {
            return Value::new(V::Error, span);
        }
        v
    }

    fn stringify(&mut self, a: Value, span: Span) -> Value {
        match a.kind {
            V::Str(s) => Value::new(V::Str(s), span),
            V::Num(n) => Value::new(V::Str(number_text(n.value)), span),
            V::Bool(b) => Value::new(V::Str(b.to_string()), span),
            V::Named(_, inner) => self.stringify(*inner, span),
            V::Unknown(_) => Value::new(V::Unknown(Ty::String), span),
            V::Error => Value::new(V::Error, span),
            V::List(_) | V::Struct(_) => {
                self.err(
                    "kumori-wrong-arguments",
                    a.span,
                    "`string(...)` converts a number, bool or string".into(),
                    "a list or struct",
                    "use `strconv.JSON(value)` to turn a list or struct into text",
                );
                Value::new(V::Error, span)
            }
        }
    }

    fn io_open(&mut self, args: &'a [Expr], span: Span) -> Value {
        let Some(arg) = self.one_arg(args, span, "io.Open") else {
            return Value::new(V::Error, span);
        };
        let rel = match &arg.kind {
            V::Str(s) => s.clone(),
            V::Unknown(_) => return Value::new(V::Unknown(Ty::String), span),
            V::Error => return Value::new(V::Error, span),
            _ => {
                self.err(
                    "kumori-wrong-arguments",
                    arg.span,
                    "`io.Open` takes a path string".into(),
                    "not a string",
                    "write `io.Open(\"file.txt\")`, relative to this .kumori file",
                );
                return Value::new(V::Error, span);
            }
        };
        let file_path = self.path(span).to_owned();
        let module_dir = self
            .prog
            .file(span.file)
            .package
            .map(|p| self.prog.modules[self.prog.packages[p].module].dir.clone())
            .unwrap_or_default();
        let escape = |this: &mut Self, why: &str| {
            this.err(
                "kumori-io-escape",
                arg.span,
                format!("`io.Open(\"{rel}\")` reads outside the module: {why}"),
                "outside the module",
                "files read by a component must be inside its module folder (no `..` past it, no absolute paths, no links out)",
            );
            Value::new(V::Error, span)
        };
        let joined = match source::join(source::parent(&file_path), &rel) {
            Ok(j) => j,
            Err(_) => return escape(self, "the path leaves the repository"),
        };
        let inside = module_dir.is_empty() || joined.starts_with(&format!("{module_dir}/"));
        if !inside {
            return escape(self, &format!("it resolves to `{joined}`"));
        }
        // A symbolic link may lead elsewhere in the repository: where the read lands must be
        // inside the module too.
        match self.tree.resolve(&joined) {
            Ok(real) if module_dir.is_empty() || real.starts_with(&format!("{module_dir}/")) => {}
            Ok(real) => {
                return escape(
                    self,
                    &format!(
                        "`{joined}` is a symbolic link to `{real}`, outside the module folder"
                    ),
                );
            }
            // Reported by the read below, with the rest of its kind.
            Err(_) => {}
        }
        let limit = self.prog.limits.open_bytes;
        match self.tree.read_at_most(&joined, limit, "openBytes") {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Value::new(V::Str(text), span),
                Err(_) => {
                    self.err(
                        "kumori-io-not-text",
                        arg.span,
                        format!("`{joined}` is not UTF-8 text"),
                        "binary file",
                        "`io.Open` reads text files",
                    );
                    Value::new(V::Error, span)
                }
            },
            Err(SourceError::OutsideRoot { .. }) => escape(self, "a symbolic link leads out"),
            Err(SourceError::TooLarge { size, limit, .. }) => {
                self.err(
                    "kumori-io-too-large",
                    span,
                    format!(
                        "`io.Open` refuses `{joined}`: it is {}, over the limit of {} for one file",
                        bytes_text(size),
                        bytes_text(limit)
                    ),
                    "file too large",
                    "files read with `io.Open` end up in an annotation, which Kubernetes bounds: \
                     keep them small, or raise the limit with `--limit openBytes=...` \
                     (`render.limits.openBytes` in the daemon)",
                );
                Value::new(V::Error, span)
            }
            Err(e) => {
                self.err(
                    "kumori-io-not-found",
                    arg.span,
                    format!("`io.Open` cannot read `{joined}`: {e}"),
                    "cannot read this file",
                    "the path is relative to the .kumori file that calls `io.Open`",
                );
                Value::new(V::Error, span)
            }
        }
    }

    fn concat(&mut self, args: &'a [Expr], span: Span) -> Value {
        let Some(arg) = self.one_arg(args, span, "strconv.Concat") else {
            return Value::new(V::Error, span);
        };
        let V::List(items) = &arg.kind else {
            if matches!(arg.kind, V::Unknown(_) | V::Error) {
                return Value::new(V::Unknown(Ty::String), span);
            }
            self.err(
                "kumori-wrong-arguments",
                arg.span,
                "`strconv.Concat` takes a list of strings".into(),
                "not a list",
                "write `strconv.Concat([\"a\", interface.config.b])`",
            );
            return Value::new(V::Error, span);
        };
        // Joined strings are counted before they are copied: doubling a string thirty times
        // must not allocate gigabytes first.
        let total = items
            .iter()
            .filter_map(|i| i.as_str())
            .fold(0usize, |n, s| n.saturating_add(s.len()));
        let size = Size {
            bytes: total,
            ..Size::of(&V::Bool(false))
        };
        if !self.within(size, span) {
            return Value::new(V::Error, span);
        }
        let mut out = String::with_capacity(total);
        let mut unknown = false;
        for item in items {
            match &item.kind {
                V::Str(s) => out.push_str(s),
                V::Unknown(_) | V::Error => unknown = true,
                _ => {
                    self.err(
                        "kumori-wrong-arguments",
                        item.span,
                        "`strconv.Concat` joins strings only".into(),
                        "not a string",
                        "convert it first: `string(x)`",
                    );
                    unknown = true;
                }
            }
        }
        if unknown {
            return Value::new(V::Unknown(Ty::String), span);
        }
        Value::new(V::Str(out), span)
    }

    fn format(&mut self, args: &'a [Expr], span: Span) -> Value {
        if args.len() != 2 {
            self.err(
                "kumori-wrong-arguments",
                span,
                format!(
                    "`strconv.Format` takes a number and a base, {} arguments given",
                    args.len()
                ),
                "wrong number of arguments",
                "write `strconv.Format(255, 16)`",
            );
            return Value::new(V::Error, span);
        }
        let n = self.eval(&args[0]);
        let base = self.eval(&args[1]);
        let (Some(n), Some(b)) = (n.as_num(), base.as_num()) else {
            if n.has_unknown() || base.has_unknown() {
                return Value::new(V::Unknown(Ty::String), span);
            }
            self.err(
                "kumori-wrong-arguments",
                span,
                "`strconv.Format` takes a number and a base".into(),
                "not numbers",
                "write `strconv.Format(255, 16)`",
            );
            return Value::new(V::Error, span);
        };
        if b.fract() != 0.0 || !(2.0..=36.0).contains(&b) {
            self.err(
                "kumori-wrong-arguments",
                base.span,
                format!("base {} is not between 2 and 36", number_text(b)),
                "invalid base",
                "give a whole base from 2 to 36, such as 16 for hexadecimal",
            );
            return Value::new(V::Error, span);
        }
        if n.fract() != 0.0 || n.abs() >= 9.007_199_254_740_992e15 {
            if b == 10.0 {
                return Value::new(V::Str(number_text(n)), span);
            }
            self.err(
                "kumori-wrong-arguments",
                args[0].span,
                format!(
                    "{} is not an integer: only base 10 formats fractions",
                    number_text(n)
                ),
                "not an integer",
                "format it in base 10, or give a whole number",
            );
            return Value::new(V::Error, span);
        }
        Value::new(V::Str(radix(n as i64, b as u32)), span)
    }
}

fn radix(n: i64, base: u32) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    let mut m = n.unsigned_abs();
    while m > 0 {
        digits
            .push(std::char::from_digit((m % base as u64) as u32, base).expect("digit below base"));
        m /= base as u64;
    }
    if n < 0 {
        digits.push('-');
    }
    digits.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_radix() {
        assert_eq!(number_text(8080.0), "8080");
        assert_eq!(number_text(0.25), "0.25");
        assert_eq!(radix(255, 16), "ff");
        assert_eq!(radix(-8, 2), "-1000");
        assert_eq!(radix(0, 8), "0");
    }
}

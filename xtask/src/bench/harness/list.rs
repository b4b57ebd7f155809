//! Command-line values of `cargo xtask bench`: comma-separated lists of names
//! (`--servers puff,granian`) and whole numbers clamped to a range (`--rounds 1`).

use std::ffi::OsStr;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;

/// The items a comma-separated list names, in the order given (repeats kept).
#[derive(Clone, Debug, PartialEq)]
pub struct List<T>(pub Vec<T>);

/// Parses a [`List`] of items of `all`, each known by `name`; blanks around the names and
/// empty items are ignored, an unknown name or an empty list is an error.
#[derive(Clone)]
pub struct ListParser<T: 'static> {
    all: &'static [T],
    name: fn(&T) -> String,
}

impl<T> ListParser<T> {
    pub fn new(all: &'static [T], name: fn(&T) -> String) -> Self {
        Self { all, name }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for ListParser<T> {
    type Value = List<T>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<List<T>, clap::Error> {
        let flag = arg.map_or("the list".to_string(), |a| match a.get_long() {
            Some(long) => format!("--{long}"),
            None => a.get_id().to_string(),
        });
        let invalid = |why: String| {
            clap::Error::raw(ErrorKind::InvalidValue, format!("{flag}: {why}\n")).with_cmd(cmd)
        };
        let value = value
            .to_str()
            .ok_or_else(|| invalid("not UTF-8".to_string()))?;
        let mut items = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match self.all.iter().find(|k| (self.name)(k) == item) {
                Some(k) => items.push(k.clone()),
                None => {
                    let known: Vec<String> = self.all.iter().map(self.name).collect();
                    return Err(invalid(format!(
                        "unknown value `{item}` ({})",
                        known.join(",")
                    )));
                }
            }
        }
        if items.is_empty() {
            return Err(invalid("empty list".to_string()));
        }
        Ok(List(items))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.all.iter().map(|k| PossibleValue::new((self.name)(k))),
        ))
    }
}

/// A whole number, brought into `lo..=hi` (as the flags always were: `--rounds 1000` runs 100).
pub fn clamped(lo: u64, hi: u64) -> impl TypedValueParser<Value = u64> {
    clap::value_parser!(u64).map(move |v| v.clamp(lo, hi))
}

/// A case id for lists of cases.
pub fn char_name(c: &char) -> String {
    c.to_string()
}

/// Parses `args` as the flags of `A` alone (tests of each benchmark's flags).
#[cfg(test)]
pub fn parse_flags<A: clap::Args + clap::FromArgMatches>(args: &[&str]) -> Result<A, clap::Error> {
    let cmd = A::augment_args(clap::Command::new("bench"));
    let matches = cmd.try_get_matches_from(std::iter::once("bench").chain(args.iter().copied()))?;
    A::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Args, Debug)]
    struct Flags {
        #[arg(long, value_parser = ListParser::new(&['a', 'b', 'c'], char_name))]
        cases: Option<List<char>>,
        #[arg(long, default_value_t = 3, value_parser = clamped(1, 100))]
        rounds: u64,
    }

    #[test]
    fn lists_keep_the_order_given_and_reject_unknown_names() {
        let f: Flags = parse_flags(&["--cases", "c, a,,a"]).unwrap();
        assert_eq!(f.cases, Some(List(vec!['c', 'a', 'a'])));
        assert_eq!(f.rounds, 3);
        let err = parse_flags::<Flags>(&["--cases", "a,z"]).unwrap_err();
        assert!(
            err.to_string().contains("unknown value `z` (a,b,c)"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
        assert!(parse_flags::<Flags>(&["--cases", ","]).is_err());
        assert!(parse_flags::<Flags>(&["--cases"]).is_err());
    }

    #[test]
    fn numbers_are_clamped() {
        let f: Flags = parse_flags(&["--rounds", "1000"]).unwrap();
        assert_eq!(f.rounds, 100);
        let f: Flags = parse_flags(&["--rounds=0"]).unwrap();
        assert_eq!(f.rounds, 1);
        assert!(parse_flags::<Flags>(&["--rounds", "-1"]).is_err());
        assert!(parse_flags::<Flags>(&["--rounds", "x"]).is_err());
    }
}

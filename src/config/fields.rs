//! Values every part of the config checks the same way: durations,
//! commands, AWS ids by prefix.

use std::time::Duration;

use toml::Spanned;

use super::model::Command;
use super::problem::Problems;
use super::raw::RawCommand;

type S<T> = Spanned<T>;

/// A duration such as "1s", "500ms" or "1h"; `default` when absent.
pub fn duration(
    raw: &Option<S<String>>,
    default: Duration,
    key: &str,
    p: &mut Problems,
) -> Option<Duration> {
    let Some(text) = raw else {
        return Some(default);
    };
    match humantime::parse_duration(text.get_ref()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            p.error(
                Some(text.span()),
                format!("{key} must be longer than zero"),
                format!("e.g. \"{}\"", humantime::format_duration(default)),
            );
            None
        }
        Err(e) => {
            p.error(
                Some(text.span()),
                format!("{key} = \"{}\" is not a duration: {e}", text.get_ref()),
                format!(
                    "write it like \"{}\" or \"500ms\"",
                    humantime::format_duration(default)
                ),
            );
            None
        }
    }
}

/// A command: its words (a string is split by shell rules, never run by a
/// shell), with a program first.
pub fn command(raw: &S<RawCommand>, key: &str, p: &mut Problems) -> Option<Command> {
    let argv = match raw.get_ref() {
        RawCommand::Argv(a) => a.clone(),
        RawCommand::Line(line) => match shell_words::split(line) {
            Ok(words) => words,
            Err(e) => {
                p.error(
                    Some(raw.span()),
                    format!("{key}: {e} (an unclosed quote?)"),
                    "close the quote, or write the command as an array: [\"/path/to/program\", \"an argument\"]".to_string(),
                );
                return None;
            }
        },
    };
    if argv.first().is_none_or(|a| a.trim().is_empty()) {
        p.error(
            Some(raw.span()),
            format!("{key} is empty"),
            "name the program to run, or remove the key".to_string(),
        );
        return None;
    }
    Some(Command { argv })
}

/// Whether `value` starts with `prefix` (and has more); reports it if not.
pub fn prefixed(value: &S<String>, prefix: &str, what: &str, p: &mut Problems) -> bool {
    let ok = value.get_ref().len() > prefix.len() && value.get_ref().starts_with(prefix);
    if !ok {
        p.error(
            Some(value.span()),
            format!("{what} `{}` does not start with {prefix}", value.get_ref()),
            "copy the id from the AWS console or CLI".to_string(),
        );
    }
    ok
}

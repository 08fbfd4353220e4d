//! Forms where the interpreter is known to disagree with the host CPU.
//! Each entry is a form-name prefix (see `Form::name`) and why. The oracle
//! counts and prints their mismatches but does not fail on them; delete an
//! entry once its fix lands (the oracle reports entries that no longer
//! mismatch, so stale ones are visible).

pub const KNOWN_MISMATCHES: &[(&str, &str)] = &[];

/// The known-mismatch entry covering form `name`, if any.
pub fn known(name: &str) -> Option<&'static str> {
    KNOWN_MISMATCHES
        .iter()
        .find(|(p, _)| {
            name.starts_with(p)
                && (name.len() == p.len() || !name.as_bytes()[p.len()].is_ascii_alphanumeric())
        })
        .map(|(p, _)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_words() {
        // With an empty list nothing is known.
        if KNOWN_MISMATCHES.is_empty() {
            assert_eq!(known("Add_rm32_r32"), None);
        }
        for (p, why) in KNOWN_MISMATCHES {
            assert_eq!(known(p), Some(*p));
            assert!(!why.is_empty());
        }
    }
}

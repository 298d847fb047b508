//! Lists of substrings searched in one pass: each value is read once, however many lists and
//! signatures there are, and each list still answers with its first signature in list order
//! (the order says which signature names a finding when several match).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};

/// `N` lists, answered as an array (no allocation per search: this runs for every input value).
pub struct Signatures<const N: usize> {
    lists: [&'static [&'static str]; N],
    automaton: Option<AhoCorasick>,
    ascii_case_insensitive: bool,
}

impl<const N: usize> Signatures<N> {
    pub fn new(lists: [&'static [&'static str]; N], ascii_case_insensitive: bool) -> Signatures<N> {
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(ascii_case_insensitive)
            .build(lists.iter().flat_map(|l| l.iter()))
            .ok();
        Signatures { lists, automaton, ascii_case_insensitive }
    }

    /// For each list, the first of its signatures (in list order) that `text` contains.
    pub fn first_of_each(&self, text: &str) -> [Option<&'static str>; N] {
        let Some(automaton) = &self.automaton else {
            // The patterns are fixed, so this is not expected; never fail open all the same.
            let lower = |s: &str| if self.ascii_case_insensitive { s.to_ascii_lowercase() } else { s.to_string() };
            let text = lower(text);
            return self.lists.map(|list| list.iter().copied().find(|s| text.contains(&lower(s))));
        };
        let mut best: [Option<usize>; N] = [None; N];
        for m in automaton.find_overlapping_iter(text) {
            let mut id = m.pattern().as_usize();
            for (list, slot) in self.lists.iter().zip(best.iter_mut()) {
                if id < list.len() {
                    *slot = Some(slot.map_or(id, |b| b.min(id)));
                    break;
                }
                id = id.saturating_sub(list.len());
            }
        }
        let mut found: [Option<&'static str>; N] = [None; N];
        for ((slot, best), list) in found.iter_mut().zip(best).zip(self.lists) {
            *slot = best.and_then(|b| list.get(b).copied());
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[&str] = &["' or 1=1", "union select", "--"];
    const B: &[&str] = &["<script", "alert("];

    #[test]
    fn each_list_answers_with_its_first_signature_in_list_order() {
        let s = Signatures::new([A, B], false);
        for text in ["plain", "x union select ' or 1=1 -- <script>alert(1)", "--alert(", "union selec"] {
            let naive: Vec<Option<&str>> =
                [A, B].iter().map(|list| list.iter().copied().find(|sig| text.contains(sig))).collect();
            assert_eq!(s.first_of_each(text).to_vec(), naive, "{text}");
        }
        assert_eq!(s.first_of_each("union select then ' or 1=1"), [Some("' or 1=1"), None]);
    }

    #[test]
    fn case_can_be_ignored() {
        let s = Signatures::new([&["sqlmap", "nikto"]], true);
        assert_eq!(s.first_of_each("Mozilla/5.0 (Nikto/2.1.6)"), [Some("nikto")]);
        assert_eq!(s.first_of_each("curl/8.0"), [None]);
    }
}

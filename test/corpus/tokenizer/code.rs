//! Streaming UTF-8 assembly: hold back bytes until a character is complete.
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Default, Clone)]
pub struct Utf8Buffer {
    held: Vec<u8>,
    stats: HashMap<&'static str, usize>,
}

impl Utf8Buffer {
    pub fn push<'a>(&mut self, bytes: &'a [u8]) -> String {
        self.held.extend_from_slice(bytes);
        let keep = incomplete_tail(&self.held);
        let ready: Vec<u8> = self.held.drain(..self.held.len() - keep).collect();
        *self.stats.entry("chunks").or_insert(0) += 1;
        String::from_utf8_lossy(&ready).into_owned()
    }

    pub fn finish(mut self) -> String {
        let rest = std::mem::take(&mut self.held);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

fn incomplete_tail(b: &[u8]) -> usize {
    for back in 1..=3.min(b.len()) {
        let c = b[b.len() - back];
        if c & 0xC0 == 0x80 { continue; }
        let need = match c { 0xC2..=0xDF => 2, 0xE0..=0xEF => 3, 0xF0..=0xF4 => 4, _ => 1 };
        return if need > back { back } else { 0 };
    }
    0
}

impl fmt::Display for Utf8Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Utf8Buffer({} held)", self.held.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn splits_emoji() {
        let mut b = Utf8Buffer::default();
        assert_eq!(b.push(&[0xF0, 0x9F]), "");
        assert_eq!(b.push(&[0x98, 0x80, b'!']), "😀!");
        println!("{b} {:?} {:#x}", b.stats, 255u8);
    }
}

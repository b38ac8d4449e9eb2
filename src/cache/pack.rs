//! Pack files, `DIR/packs/NAME.pack`: the entries one batch of writes
//! keeps, in one file, so that a first report creates a handful of files
//! instead of one per manifest and config. On ext4 every new file takes an
//! inode, and right after many files were deleted finding a free inode
//! costs more than writing the bytes; one file is one inode.
//!
//! The format is a text index, then the entries' bytes back to back:
//!
//! ```text
//! dockreg-pack 1 INDEX_LEN
//! sha256:HEX OFFSET LENGTH
//! ...
//! BYTES
//! ```
//!
//! `INDEX_LEN` is the byte length of the index lines that follow the first
//! line; `OFFSET` counts from the end of the index. Nothing in a pack is
//! trusted: the index only says where to look, and every entry is hashed on
//! the way out against the digest it is wanted by, as a loose file is.

use bytes::Bytes;

use crate::digest::Digest;

/// The first line's first word and version.
const MAGIC: &str = "dockreg-pack 1";
/// The first word of every version's first line.
const WORD: &str = "dockreg-pack ";
/// A pack's file names end with this.
pub(crate) const EXTENSION: &str = ".pack";
/// Longest first line read.
pub(crate) const MAX_FIRST_LINE: usize = 64;
/// Largest index read (about 150,000 entries); a pack with a larger one is
/// no pack.
pub(crate) const MAX_INDEX_BYTES: u64 = 16 << 20;
/// A batch of fewer entries than this is written as files of their own:
/// a pack of two entries saves nothing and evicts them together.
pub(crate) const MIN_ENTRIES: usize = 8;

/// Where one entry of a pack is: absolute offset and length, checked to
/// lie inside the file as long as it had when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) digest: Digest,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// The bytes of a pack holding `entries` (in that order), and where each
/// entry is in them.
pub(crate) fn encode(entries: &[(Digest, Bytes)]) -> (Vec<u8>, Vec<Listed>) {
    let mut index = String::with_capacity(entries.len() * 96);
    let mut offset: u64 = 0;
    for (digest, bytes) in entries {
        index.push_str(&format!("{digest} {offset} {}\n", bytes.len()));
        offset += bytes.len() as u64;
    }
    let first = format!("{MAGIC} {}\n", index.len());
    let data_start = (first.len() + index.len()) as u64;
    let mut out = Vec::with_capacity(data_start as usize + offset as usize);
    out.extend_from_slice(first.as_bytes());
    out.extend_from_slice(index.as_bytes());
    let mut listed = Vec::with_capacity(entries.len());
    for (digest, bytes) in entries {
        listed.push(Listed {
            digest: digest.clone(),
            offset: out.len() as u64,
            len: bytes.len() as u64,
        });
        out.extend_from_slice(bytes);
    }
    (out, listed)
}

/// What the first line of a file in `packs/` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstLine {
    /// A pack this code reads: the length of the line (with its newline)
    /// and of the index after it.
    Pack { len: u64, index_len: u64 },
    /// `dockreg-pack` of another version: not this code's to read or to
    /// remove (eviction counts it as any file).
    OtherVersion,
    /// Anything else.
    NoPack,
}

/// Reads the first line of a pack from its first bytes.
pub(crate) fn first_line(head: &[u8]) -> FirstLine {
    let Some(end) = head.iter().take(MAX_FIRST_LINE).position(|&b| b == b'\n') else {
        return FirstLine::NoPack;
    };
    let Ok(line) = std::str::from_utf8(&head[..end]) else {
        return FirstLine::NoPack;
    };
    let Some(len) = line.strip_prefix(MAGIC).and_then(|r| r.strip_prefix(' ')) else {
        let version = line
            .strip_prefix(WORD)
            .and_then(|rest| rest.split(' ').next())
            .and_then(number);
        return match version {
            Some(v) if v.to_string() != MAGIC[WORD.len()..] => FirstLine::OtherVersion,
            _ => FirstLine::NoPack,
        };
    };
    match number(len).filter(|n| *n <= MAX_INDEX_BYTES) {
        Some(index_len) => FirstLine::Pack {
            len: end as u64 + 1,
            index_len,
        },
        None => FirstLine::NoPack,
    }
}

/// A decimal number of digits only (no sign, no space), within `u64`.
fn number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse::<u64>().ok())
        .flatten()
}

/// The entries an index lists, given where the data starts and how long
/// the file is. A line that does not parse or points outside the file is
/// skipped (its entry is then a miss), and so is one whose bytes overlap
/// those of an entry kept before it in the file, or whose digest is kept
/// already: the entries kept lie apart, as [`encode`] writes them, so what
/// they add up to is at most the file's length.
pub(crate) fn parse_index(index: &[u8], data_start: u64, file_len: u64) -> Vec<Listed> {
    let mut lines: Vec<Listed> = Vec::new();
    let text = String::from_utf8_lossy(index);
    for line in text.lines() {
        let mut words = line.split(' ');
        let (Some(digest), Some(offset), Some(len), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Ok(digest), Some(offset), Some(len)) =
            (digest.parse::<Digest>(), number(offset), number(len))
        else {
            continue;
        };
        let Some(start) = data_start.checked_add(offset) else {
            continue;
        };
        if start.checked_add(len).is_some_and(|end| end <= file_len) {
            lines.push(Listed {
                digest,
                offset: start,
                len,
            });
        }
    }
    // In file order (stable: the earlier line first at one offset).
    lines.sort_by_key(|l| l.offset);
    let mut seen = std::collections::HashSet::new();
    let mut end_of_last = data_start;
    let mut listed = Vec::with_capacity(lines.len());
    for l in lines {
        if l.offset < end_of_last || seen.contains(&l.digest) {
            continue;
        }
        end_of_last = l.offset + l.len;
        seen.insert(l.digest.clone());
        listed.push(l);
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<(Digest, Bytes)> {
        ["one", "second entry", ""]
            .iter()
            .map(|s| (Digest::sha256(s.as_bytes()), Bytes::from(s.to_string())))
            .collect()
    }

    #[test]
    fn a_pack_lists_its_entries_where_their_bytes_are() {
        let entries = entries();
        let (pack, written) = encode(&entries);
        let FirstLine::Pack {
            len: first,
            index_len,
        } = first_line(&pack)
        else {
            panic!("no pack");
        };
        let start = first + index_len;
        let listed = parse_index(
            &pack[first as usize..start as usize],
            start,
            pack.len() as u64,
        );
        assert_eq!(listed, written, "the index read back says what was written");
        assert_eq!(listed.len(), 3);
        for (l, (digest, bytes)) in listed.iter().zip(&entries) {
            assert_eq!(&l.digest, digest);
            let at = l.offset as usize;
            assert_eq!(&pack[at..at + l.len as usize], bytes.as_ref());
        }
    }

    #[test]
    fn hostile_index_lines_are_skipped() {
        let d = Digest::sha256(b"x");
        let e = Digest::sha256(b"y");
        let f = Digest::sha256(b"z");
        let max = u64::MAX;
        let index = format!(
            "{d} 0 1\n{d} 1 1\nsha256:zz 1 1\n{e} -1 1\n{e} 1 +1\n{e} {max} 1\n\
             {e} 1 {max}\n{e} 5 6\n{e} 1 1 extra\n\n{e} 0 2\n{e} 3 2\n{f} 4 1\n"
        );
        let listed = parse_index(index.as_bytes(), 100, 110);
        let at = |digest: &Digest, offset, len| Listed {
            digest: digest.clone(),
            offset,
            len,
        };
        assert_eq!(
            listed,
            [at(&d, 100, 1), at(&e, 103, 2)],
            "the duplicate, the bad digest, signs, overflows, ranges past the \
             end and ranges over another entry's are skipped"
        );
    }

    #[test]
    fn entries_listed_out_of_file_order_are_kept_when_apart() {
        let (d, e) = (Digest::sha256(b"d"), Digest::sha256(b"e"));
        let listed = parse_index(format!("{d} 5 5\n{e} 0 5\n").as_bytes(), 0, 10);
        let offsets: Vec<(Digest, u64)> =
            listed.into_iter().map(|l| (l.digest, l.offset)).collect();
        assert_eq!(offsets, [(e, 0), (d, 5)]);
    }

    #[test]
    fn a_first_line_that_is_no_pack_says_so() {
        assert_eq!(
            first_line(b"dockreg-pack 1 12\nrest"),
            FirstLine::Pack {
                len: 18,
                index_len: 12
            }
        );
        assert_eq!(first_line(b"dockreg-pack 2 12\n"), FirstLine::OtherVersion);
        assert_eq!(first_line(b"dockreg-pack 10\n"), FirstLine::OtherVersion);
        for bad in [
            &b"dockreg-pack 1 \n"[..],
            b"dockreg-pack 1 -1\n",
            b"dockreg-pack 1 99999999999999999999999\n",
            b"dockreg-pack 1 12",
            b"\xff\xfe\n",
            b"dockreg-pack 1 99999999\n",
            b"dockreg-pack x 1\n",
            b"dockreg-pack \n",
            b"dockreg-pack 1\n",
        ] {
            assert_eq!(
                first_line(bad),
                FirstLine::NoPack,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("dockreg-pack 1 {}1\n", "0".repeat(MAX_FIRST_LINE));
        assert_eq!(first_line(long.as_bytes()), FirstLine::NoPack);
    }
}

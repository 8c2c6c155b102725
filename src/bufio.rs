//! `Read` for readers that already implement `BufRead` (the CSV guard, a
//! table's records, an S3 object's body): one copy out of the buffer.

use std::io::{self, BufRead};

/// Reads into `out` from `reader`'s buffer, filling it when empty.
pub(crate) fn read_from_buf(reader: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let avail = reader.fill_buf()?;
    let n = avail.len().min(out.len());
    out[..n].copy_from_slice(&avail[..n]);
    reader.consume(n);
    Ok(n)
}

//! A parallel ZIP writer. Entries are deflated on the rayon thread pool, a window of files at a time, while a
//! writer thread appends the finished entries in name order (so the same tree always gives the same bytes) and
//! hashes the archive (SHA-256 and MD5, as CodeBuild reports them) as it is written. Files that deflate does
//! not shrink (judged on their first 64 KiB) are STORED. Large files are compressed to a spill file so memory
//! stays bounded; ZIP64 records are written when sizes, offsets or the entry count need them.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::UNIX_EPOCH;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use kiln_core::time::dos_date_time;
use md5::Md5;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::select::{Selected, SelectedKind};

/// Files larger than this are compressed to a temporary file instead of memory.
const SPILL_AT: u64 = 16 * 1024 * 1024;
/// How many input bytes one parallel window holds at most.
const WINDOW_BYTES: u64 = 64 * 1024 * 1024;
/// How many entries one parallel window holds at most.
const WINDOW_ENTRIES: usize = 1024;
/// The prefix deflated to decide whether a large file is worth compressing.
const PROBE: usize = 64 * 1024;
/// The prefix whose byte entropy decides whether a small file is worth compressing.
const SAMPLE: usize = 16 * 1024;
const U32_MAX: u64 = 0xFFFF_FFFF;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;

/// What was written: the archive's size and digests, and how many entries it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipSummary {
    /// Archive size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the archive.
    pub sha256: String,
    /// Lowercase hex MD5 of the archive.
    pub md5: String,
    /// Number of entries.
    pub entries: usize,
}

/// Writes `entries` into a new ZIP file at `out`, deflating at `level` (0–9; 6 is zip's default).
pub fn write_zip(entries: &[Selected], out: &Path, level: u32) -> std::io::Result<ZipSummary> {
    let file = File::create(out)?;
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<Vec<Prepared>>>(1);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<ZipSummary> {
            let mut zip = ZipOut::new(file);
            for window in rx {
                for entry in window? {
                    zip.append(entry)?;
                }
            }
            zip.finish()
        });
        for window in windows(entries) {
            let prepared: std::io::Result<Vec<Prepared>> =
                window.par_iter().map(|entry| prepare(entry, level)).collect();
            let failed = prepared.is_err();
            if tx.send(prepared).is_err() || failed {
                break;
            }
        }
        drop(tx);
        writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("zip writer thread panicked")))
    })
}

fn windows(entries: &[Selected]) -> Vec<&[Selected]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, entry) in entries.iter().enumerate() {
        let len = std::fs::symlink_metadata(&entry.source)
            .map(|m| m.len())
            .unwrap_or(0);
        if i > start && (bytes + len > WINDOW_BYTES || i - start >= WINDOW_ENTRIES) {
            out.push(&entries[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += len;
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// An entry ready to be appended: header fields and the (possibly compressed) payload.
struct Prepared {
    name: String,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    dos_time: u16,
    dos_date: u16,
    unix_mode: u32,
    payload: Payload,
}

enum Payload {
    Memory(Vec<u8>),
    /// A spill file (or the source file itself, for large STORED entries) copied as-is.
    File(File),
}

fn prepare(entry: &Selected, level: u32) -> std::io::Result<Prepared> {
    let meta = std::fs::symlink_metadata(&entry.source)?;
    let (dos_time, dos_date) = dos_date_time(meta.modified().unwrap_or(UNIX_EPOCH));
    let mode = unix_mode(&meta);
    let base = |method, crc, compressed, uncompressed, unix_mode, payload| Prepared {
        name: entry.name.clone(),
        method,
        crc,
        compressed,
        uncompressed,
        dos_time,
        dos_date,
        unix_mode,
        payload,
    };
    if let SelectedKind::Symlink { target } = &entry.kind {
        let bytes = target.to_string_lossy().into_owned().into_bytes();
        let len = bytes.len() as u64;
        let crc = crc32fast::hash(&bytes);
        return Ok(base(
            METHOD_STORED,
            crc,
            len,
            len,
            0o120_777,
            Payload::Memory(bytes),
        ));
    }
    if meta.len() > SPILL_AT {
        return prepare_large(entry, level, &base);
    }
    let data = std::fs::read(&entry.source)?;
    let len = data.len() as u64;
    let crc = crc32fast::hash(&data);
    if looks_incompressible(&data) {
        return Ok(base(METHOD_STORED, crc, len, len, mode, Payload::Memory(data)));
    }
    match deflate_smaller(&data, level) {
        Some(deflated) => {
            let clen = deflated.len() as u64;
            Ok(base(
                METHOD_DEFLATE,
                crc,
                clen,
                len,
                mode,
                Payload::Memory(deflated),
            ))
        }
        None => Ok(base(METHOD_STORED, crc, len, len, mode, Payload::Memory(data))),
    }
}

thread_local! {
    /// One libdeflate compressor per pool thread (it holds ~1 MB of tables), with its level.
    static COMPRESSOR: RefCell<Option<(u32, libdeflater::Compressor)>> = const { RefCell::new(None) };
}

/// Deflates an in-memory file with libdeflate; `None` when the result would not be smaller (libdeflate stops
/// as soon as its output buffer, one byte shorter than the input, is full).
fn deflate_smaller(data: &[u8], level: u32) -> Option<Vec<u8>> {
    if data.len() < 2 {
        return None;
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            let lvl = i32::try_from(level.clamp(1, 12)).ok()?;
            let lvl = libdeflater::CompressionLvl::new(lvl).ok()?;
            *slot = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let (_, compressor) = slot.as_mut()?;
        let mut out = vec![0u8; data.len() - 1];
        let n = compressor.deflate_compress(data, &mut out).ok()?;
        out.truncate(n);
        Some(out)
    })
}

/// Builds a [`Prepared`] from (method, crc, compressed size, size, unix mode, payload).
type Base<'a> = dyn Fn(u16, u32, u64, u64, u32, Payload) -> Prepared + 'a;

fn prepare_large(entry: &Selected, level: u32, base: &Base<'_>) -> std::io::Result<Prepared> {
    let meta = std::fs::metadata(&entry.source)?;
    let mode = unix_mode(&meta);
    let mut input = File::open(&entry.source)?;
    let mut probe = vec![0u8; PROBE];
    input.read_exact(&mut probe)?;
    let mut input = File::open(&entry.source)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut total = 0u64;
    if !worth_deflating(&probe, level)? {
        loop {
            let n = read_some(&mut input, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        let file = File::open(&entry.source)?;
        return Ok(base(
            METHOD_STORED,
            hasher.finalize(),
            total,
            total,
            mode,
            Payload::File(file),
        ));
    }
    let spill = tempfile::tempfile()?;
    let mut encoder = DeflateEncoder::new(BufWriter::new(spill), Compression::new(level));
    loop {
        let n = read_some(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        encoder.write_all(&buf[..n])?;
        total += n as u64;
    }
    let mut spill = encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
    let compressed = std::io::Seek::stream_position(&mut spill)?;
    std::io::Seek::rewind(&mut spill)?;
    Ok(base(
        METHOD_DEFLATE,
        hasher.finalize(),
        compressed,
        total,
        mode,
        Payload::File(spill),
    ))
}

fn read_some(input: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn deflate(data: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(level));
    encoder.write_all(data)?;
    encoder.finish()
}

/// Whether `data` looks like random or already-compressed bytes: its first [`SAMPLE`] bytes use nearly 8 bits
/// of entropy per byte. Cheap, so a file is not deflated twice; a wrong guess costs only a few bytes, as
/// deflate would gain almost nothing on such data.
fn looks_incompressible(data: &[u8]) -> bool {
    let sample = &data[..data.len().min(SAMPLE)];
    if sample.len() < 4096 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[usize::from(b)] += 1;
    }
    let n = sample.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    // A uniform 16 KiB sample measures about 7.99 bits; text and code stay under 6.
    entropy > 7.9
}

/// Whether deflate saves at least 3 % on `sample` (random and already-compressed data saves nothing).
fn worth_deflating(sample: &[u8], level: u32) -> std::io::Result<bool> {
    let out = deflate(sample, level)?;
    Ok((out.len() as u64) * 100 < (sample.len() as u64) * 97)
}

fn unix_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    0o100_000 | (meta.permissions().mode() & 0o7777)
}

/// The central-directory record kept for each appended entry.
struct Central {
    name: String,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    dos_time: u16,
    dos_date: u16,
    unix_mode: u32,
    offset: u64,
}

/// The archive being written, hashed and counted as it goes.
struct ZipOut {
    out: BufWriter<File>,
    offset: u64,
    sha256: Sha256,
    md5: Md5,
    central: Vec<Central>,
}

impl ZipOut {
    fn new(file: File) -> Self {
        Self {
            out: BufWriter::with_capacity(1024 * 1024, file),
            offset: 0,
            sha256: Sha256::new(),
            md5: Md5::new(),
            central: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sha256.update(bytes);
        self.md5.update(bytes);
        self.offset += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn append(&mut self, entry: Prepared) -> std::io::Result<()> {
        let offset = self.offset;
        let zip64 = entry.compressed >= U32_MAX || entry.uncompressed >= U32_MAX;
        let mut h = Vec::with_capacity(30 + entry.name.len() + 20);
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        h.extend_from_slice(&flags(&entry.name).to_le_bytes());
        h.extend_from_slice(&entry.method.to_le_bytes());
        h.extend_from_slice(&entry.dos_time.to_le_bytes());
        h.extend_from_slice(&entry.dos_date.to_le_bytes());
        h.extend_from_slice(&entry.crc.to_le_bytes());
        let (c32, u32_) = if zip64 {
            (U32_MAX as u32, U32_MAX as u32)
        } else {
            (entry.compressed as u32, entry.uncompressed as u32)
        };
        h.extend_from_slice(&c32.to_le_bytes());
        h.extend_from_slice(&u32_.to_le_bytes());
        h.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(entry.name.as_bytes());
        if zip64 {
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&entry.uncompressed.to_le_bytes());
            h.extend_from_slice(&entry.compressed.to_le_bytes());
        }
        self.put(&h)?;
        match entry.payload {
            Payload::Memory(bytes) => self.put(&bytes)?,
            Payload::File(mut file) => {
                let mut buf = vec![0u8; 1024 * 1024];
                let mut left = entry.compressed;
                while left > 0 {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    file.read_exact(&mut buf[..want])?;
                    self.put(&buf[..want])?;
                    left -= want as u64;
                }
            }
        }
        self.central.push(Central {
            name: entry.name,
            method: entry.method,
            crc: entry.crc,
            compressed: entry.compressed,
            uncompressed: entry.uncompressed,
            dos_time: entry.dos_time,
            dos_date: entry.dos_date,
            unix_mode: entry.unix_mode,
            offset,
        });
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<ZipSummary> {
        let cd_start = self.offset;
        let central = std::mem::take(&mut self.central);
        for c in &central {
            let record = central_record(c);
            self.put(&record)?;
        }
        let cd_size = self.offset - cd_start;
        let count = central.len() as u64;
        let zip64 = count >= 0xFFFF || cd_start >= U32_MAX || cd_size >= U32_MAX;
        let mut tail = Vec::with_capacity(120);
        if zip64 {
            let eocd64 = self.offset;
            tail.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            tail.extend_from_slice(&44u64.to_le_bytes());
            tail.extend_from_slice(&(0x0300u16 | 45).to_le_bytes());
            tail.extend_from_slice(&45u16.to_le_bytes());
            tail.extend_from_slice(&[0u8; 8]); // this disk, disk with the central directory
            tail.extend_from_slice(&count.to_le_bytes());
            tail.extend_from_slice(&count.to_le_bytes());
            tail.extend_from_slice(&cd_size.to_le_bytes());
            tail.extend_from_slice(&cd_start.to_le_bytes());
            tail.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            tail.extend_from_slice(&0u32.to_le_bytes());
            tail.extend_from_slice(&eocd64.to_le_bytes());
            tail.extend_from_slice(&1u32.to_le_bytes());
        }
        let count16 = if zip64 { 0xFFFF } else { count as u16 };
        tail.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        tail.extend_from_slice(&[0u8; 4]);
        tail.extend_from_slice(&count16.to_le_bytes());
        tail.extend_from_slice(&count16.to_le_bytes());
        tail.extend_from_slice(&(cd_size.min(U32_MAX) as u32).to_le_bytes());
        tail.extend_from_slice(&(cd_start.min(U32_MAX) as u32).to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes());
        self.put(&tail)?;
        self.out.flush()?;
        Ok(ZipSummary {
            size: self.offset,
            sha256: hex::encode(self.sha256.finalize()),
            md5: hex::encode(self.md5.finalize()),
            entries: central.len(),
        })
    }
}

fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { 1 << 11 }
}

fn central_record(c: &Central) -> Vec<u8> {
    let mut extra = Vec::new();
    if c.uncompressed >= U32_MAX {
        extra.extend_from_slice(&c.uncompressed.to_le_bytes());
    }
    if c.compressed >= U32_MAX {
        extra.extend_from_slice(&c.compressed.to_le_bytes());
    }
    if c.offset >= U32_MAX {
        extra.extend_from_slice(&c.offset.to_le_bytes());
    }
    let zip64 = !extra.is_empty();
    let mut r = Vec::with_capacity(46 + c.name.len() + 4 + extra.len());
    r.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    r.extend_from_slice(&(0x0300u16 | 45).to_le_bytes()); // made by: unix, 4.5
    r.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
    r.extend_from_slice(&flags(&c.name).to_le_bytes());
    r.extend_from_slice(&c.method.to_le_bytes());
    r.extend_from_slice(&c.dos_time.to_le_bytes());
    r.extend_from_slice(&c.dos_date.to_le_bytes());
    r.extend_from_slice(&c.crc.to_le_bytes());
    r.extend_from_slice(&(c.compressed.min(U32_MAX) as u32).to_le_bytes());
    r.extend_from_slice(&(c.uncompressed.min(U32_MAX) as u32).to_le_bytes());
    r.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
    let extra_len = if zip64 { extra.len() + 4 } else { 0 };
    r.extend_from_slice(&(extra_len as u16).to_le_bytes());
    r.extend_from_slice(&[0u8; 4]); // comment length, disk number
    r.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    r.extend_from_slice(&(c.unix_mode << 16).to_le_bytes());
    r.extend_from_slice(&(c.offset.min(U32_MAX) as u32).to_le_bytes());
    r.extend_from_slice(c.name.as_bytes());
    if zip64 {
        r.extend_from_slice(&1u16.to_le_bytes());
        r.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        r.extend_from_slice(&extra);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_dates_follow_the_civil_calendar() {
        // 2026-11-24 12:34:56 UTC
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_523_696);
        let (time, date) = dos_date_time(t);
        assert_eq!((date >> 9) + 1980, 2026);
        assert_eq!((date >> 5) & 0xF, 11);
        assert_eq!(date & 0x1F, 24);
        assert_eq!(time >> 11, 12);
        assert_eq!((time >> 5) & 0x3F, 34);
    }
}

//! The model file's bytes, memory-mapped: weights are read in place from the page cache, so a
//! model costs its file once however many processes run it, and loading reads only the header.
//! Where the file cannot be mapped (some network and FUSE filesystems), it is read into memory
//! instead, as before.
//!
//! Mapping is `unsafe` because the bytes can change under the map if another process writes
//! or truncates the file while it is in use (truncation ends the process with `SIGBUS`). Model
//! files are not edited in place, and llama.cpp takes the same risk. Every range handed out
//! here is checked against the file's length, and the loader checks that the tensors' ranges
//! neither overlap nor run past the end before any byte is used.

use std::fs::File;
use std::io::Read;
use std::ops::{Deref, Range};
use std::sync::Arc;

use memmap2::Mmap;

/// A whole model file in memory: mapped, or read where mapping is not possible.
#[derive(Clone)]
pub(crate) struct FileBytes(Arc<dyn AsRef<[u8]> + Send + Sync>);

impl FileBytes {
    /// Maps `file` (or, where it cannot be mapped, reads it whole).
    pub(crate) fn open(file: &File) -> std::io::Result<FileBytes> {
        // SAFETY: the map is read-only; the file changing under it is the risk the module
        // documentation accepts, as llama.cpp does.
        #[allow(unsafe_code)]
        let mapped = unsafe { Mmap::map(file) };
        match mapped {
            Ok(map) => {
                // Start reading ahead: the first call then finds most pages in memory.
                #[cfg(unix)]
                let _ = map.advise(memmap2::Advice::WillNeed);
                Ok(FileBytes(Arc::new(map)))
            }
            Err(err) => {
                tracing::debug!("the model file cannot be mapped ({err}): reading it whole");
                let mut bytes = Vec::new();
                let mut reader = file;
                reader.read_to_end(&mut bytes)?;
                Ok(FileBytes::from(bytes))
            }
        }
    }

    /// The bytes from `start` for `len`, if they lie within the file.
    pub(crate) fn region(&self, start: u64, len: u64) -> Option<Region> {
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        ((*self.0).as_ref().len() >= end).then(|| Region { file: self.clone(), range: start..end })
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(bytes: Vec<u8>) -> FileBytes {
        FileBytes(Arc::new(bytes))
    }
}

/// A range of a model file's bytes (one tensor's), shared with every other region of the file.
#[derive(Clone)]
pub(crate) struct Region {
    file: FileBytes,
    range: Range<usize>,
}

impl Deref for Region {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // In bounds: `FileBytes::region` checked the range.
        &(*self.file.0).as_ref()[self.range.clone()]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests fail loudly by design.
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn regions_are_the_files_bytes_and_stay_inside_it() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let bytes = FileBytes::open(&file).unwrap();
        assert_eq!(&*bytes.region(2, 3).unwrap(), b"234");
        assert_eq!(&*bytes.region(0, 10).unwrap(), b"0123456789");
        assert!(bytes.region(8, 3).is_none());
        assert!(bytes.region(u64::MAX, 2).is_none());
    }
}

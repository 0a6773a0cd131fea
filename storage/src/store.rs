//! Opening the object store behind `--store` and writing to it durably.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};

/// The URL under which query engines address this store's objects.
///
/// Every store, whatever its backend, is registered with DataFusion under
/// this one URL, with object paths relative to the store's root.
pub const STORE_URL: &str = "strata://store/";

/// A Strata store: an object store rooted at the `--store` location.
#[derive(Debug, Clone)]
pub struct Store {
    objects: Arc<dyn ObjectStore>,
    /// Root folder when the store is a local directory: used to fsync.
    local_root: Option<PathBuf>,
    url: String,
}

impl Store {
    /// Opens a store from a URL: `file://./data` (relative or absolute
    /// directory, created if missing), a bare directory path, `s3://bucket`
    /// or `s3://bucket/prefix` (credentials, region and endpoint from the
    /// usual `AWS_*` environment variables), or `memory://` (tests).
    pub fn open(url: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if url == "memory://" || url == "memory:" {
            return Ok(Self {
                objects: Arc::new(InMemory::new()),
                local_root: None,
                url: url.to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("an s3:// URL needs a bucket: s3://bucket/prefix"));
            }
            let s3 = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| invalid(&e.to_string()))?;
            let prefix = prefix.trim_matches('/');
            let objects: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            };
            return Ok(Self {
                objects,
                local_root: None,
                url: url.to_string(),
            });
        }
        let dir = match url.split_once("://") {
            Some(("file", path)) => path,
            Some((scheme, _)) => {
                return Err(invalid(&format!(
                    "unsupported scheme {scheme:?}; use file://DIR or s3://BUCKET/PREFIX"
                )));
            }
            None => url,
        };
        if dir.is_empty() {
            return Err(invalid("empty directory"));
        }
        let dir = std::path::absolute(dir).map_err(|e| invalid(&e.to_string()))?;
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let objects = LocalFileSystem::new_with_prefix(&dir)?;
        Ok(Self {
            objects: Arc::new(objects),
            local_root: Some(dir),
            url: url.to_string(),
        })
    }

    /// The underlying object store, rooted at the store's location.
    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// The URL the store was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The local directory behind a `file://` store.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// Writes `bytes` at `path` so that it survives a crash of the process
    /// *and* of the machine once this returns.
    ///
    /// Object stores are durable when a PUT returns. A local directory is not
    /// (object_store does not fsync), so for `file://` stores the file and its
    /// folder are fsynced here. With `create_only` the write fails with
    /// [`object_store::Error::AlreadyExists`] if the object exists: the
    /// atomic primitive the commit log is built on.
    pub async fn put_durable(&self, path: &Path, bytes: Bytes, create_only: bool) -> Result<()> {
        let mode = if create_only {
            PutMode::Create
        } else {
            PutMode::Overwrite
        };
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        self.objects
            .put_opts(path, PutPayload::from_bytes(bytes), opts)
            .await?;
        if let Some(root) = &self.local_root {
            let file = root.join(path.as_ref());
            tokio::task::spawn_blocking(move || fsync_file_and_dir(&file))
                .await
                .expect("fsync task panicked")?;
        }
        Ok(())
    }
}

fn fsync_file_and_dir(file: &std::path::Path) -> Result<()> {
    let io = |p: &std::path::Path, source| Error::Io {
        path: p.display().to_string(),
        source,
    };
    std::fs::File::open(file)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(file, e))?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_schemes() {
        let err = Store::open("ftp://x").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme"), "{err}");
        assert!(Store::open("s3://").is_err());
    }

    #[tokio::test]
    async fn create_only_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
        let p = Path::from("_log/1.json");
        store
            .put_durable(&p, Bytes::from_static(b"a"), true)
            .await
            .unwrap();
        let err = store
            .put_durable(&p, Bytes::from_static(b"b"), true)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::ObjectStore(object_store::Error::AlreadyExists { .. })
        ));
        assert!(dir.path().join("_log/1.json").exists());
    }
}

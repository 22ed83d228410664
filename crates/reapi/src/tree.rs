//! Protocol 3 (pump, and the client's source route for identical debug information): the
//! request's file list as an REAPI input root and back.
//!
//! Every entry's absolute client path becomes the same path under the input root (leading
//! `/` dropped); files are FileNodes, links SymlinkNodes with their target as sent. A name
//! with an empty, `.` or `..` component, or that is not UTF-8, is refused (the job falls
//! back). The worker's walk is capped in entries and bytes before anything is read.

use std::collections::{BTreeMap, HashSet};

use crate::cas::{self, Cas};
use crate::re::{Digest, Directory, DirectoryNode, FileNode, SymlinkNode};

/// One entry of a protocol 3 file list: an absolute path and a file or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File(Vec<u8>),
    Link(String),
}

/// Most entries, and bytes of files, the worker takes from one input root.
pub const MAX_ENTRIES: usize = 64 * 1024;
pub const MAX_BYTES: u64 = 1 << 30;

#[derive(Default)]
struct Node {
    files: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
    dirs: BTreeMap<String, Node>,
}

fn components(path: &str) -> Result<Vec<&str>, String> {
    let rel = path
        .strip_prefix('/')
        .ok_or_else(|| format!("{path}: not an absolute path"))?;
    if rel.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(format!("{path}: not a plain path"));
    }
    Ok(parts)
}

fn dir_at<'a>(root: &'a mut Node, parts: &[&str]) -> &'a mut Node {
    let mut node = root;
    for p in parts {
        node = node.dirs.entry((*p).to_owned()).or_default();
    }
    node
}

/// The input root of `entries` (and `cwd` as a directory); returns its digest and every
/// blob (Directories and files, each once).
pub fn input_root(cwd: &str, entries: &[(String, Entry)]) -> Result<(Digest, cas::Blobs), String> {
    let mut root = Node::default();
    dir_at(&mut root, &components(cwd)?);
    for (name, entry) in entries {
        let parts = components(name)?;
        let (last, parents) = parts
            .split_last()
            .ok_or_else(|| format!("{name}: names the root"))?;
        let dir = dir_at(&mut root, parents);
        match entry {
            Entry::File(data) => {
                dir.files.insert((*last).to_owned(), data.clone());
            }
            Entry::Link(target) => {
                dir.links.insert((*last).to_owned(), target.clone());
            }
        }
    }
    let mut blobs = Vec::new();
    let mut seen = HashSet::new();
    let d = encode(&root, &mut blobs, &mut seen);
    Ok((d, blobs))
}

fn encode(node: &Node, blobs: &mut cas::Blobs, seen: &mut HashSet<String>) -> Digest {
    let mut dir = Directory::default();
    for (name, child) in &node.dirs {
        let digest = encode(child, blobs, seen);
        dir.directories.push(DirectoryNode {
            name: name.clone(),
            digest: Some(digest),
        });
    }
    for (name, data) in &node.files {
        let d = cas::digest(data);
        if seen.insert(d.hash.clone()) {
            blobs.push((d.clone(), data.clone()));
        }
        dir.files.push(FileNode {
            name: name.clone(),
            digest: Some(d),
            is_executable: false,
            node_properties: None,
        });
    }
    for (name, target) in &node.links {
        dir.symlinks.push(SymlinkNode {
            name: name.clone(),
            target: target.clone(),
            node_properties: None,
        });
    }
    let (d, bytes) = cas::message(&dir);
    if seen.insert(d.hash.clone()) {
        blobs.push((d.clone(), bytes));
    }
    d
}

/// The worker's side: every file and link under `root`, by absolute path, sorted.
pub async fn entries(cas: &mut Cas, root: &Digest) -> Result<Vec<(String, Entry)>, String> {
    let mut out = Vec::new();
    let mut bytes = 0u64;
    let mut stack = vec![(String::new(), root.clone())];
    let mut dirs = 0usize;
    while let Some((prefix, d)) = stack.pop() {
        dirs += 1;
        if dirs > MAX_ENTRIES {
            return Err("the input root has too many directories".into());
        }
        let dir: Directory = cas.read_message(&d, 4 << 20).await?;
        for f in &dir.files {
            check_name(&f.name)?;
            let fd = f.digest.as_ref().ok_or("a file without a digest")?;
            bytes += fd.size_bytes.max(0) as u64;
            if bytes > MAX_BYTES || out.len() >= MAX_ENTRIES {
                return Err("the input root is over the caps".into());
            }
            let data = cas.read(fd, MAX_BYTES).await?;
            out.push((format!("{prefix}/{}", f.name), Entry::File(data)));
        }
        for l in &dir.symlinks {
            check_name(&l.name)?;
            if out.len() >= MAX_ENTRIES {
                return Err("the input root is over the caps".into());
            }
            out.push((
                format!("{prefix}/{}", l.name),
                Entry::Link(l.target.clone()),
            ));
        }
        for sub in &dir.directories {
            check_name(&sub.name)?;
            let sd = sub.digest.clone().ok_or("a directory without a digest")?;
            stack.push((format!("{prefix}/{}", sub.name), sd));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(format!("{name:?}: not a plain name in the input root"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_list_becomes_a_tree_and_bad_names_are_refused() {
        let entries = vec![
            ("/src/a.c".to_owned(), Entry::File(b"int x;".to_vec())),
            ("/src/inc/a.h".to_owned(), Entry::File(b"int x;".to_vec())),
            ("/usr/l".to_owned(), Entry::Link("/src".into())),
        ];
        let (d, blobs) = input_root("/src/build", &entries).unwrap();
        // root, src, src/build, src/inc, usr; one file blob (two files share it).
        assert_eq!(blobs.len(), 6);
        assert_eq!(input_root("/src/build", &entries).unwrap().0, d);
        assert!(input_root("/", &[("/a/../b".into(), Entry::File(vec![]))]).is_err());
        assert!(input_root("/", &[("rel".into(), Entry::File(vec![]))]).is_err());
        assert!(input_root("/", &[("/".into(), Entry::File(vec![]))]).is_err());
    }
}

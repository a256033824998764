//! Which files a Flux GitRepository artifact leaves out. source-controller packs the
//! repository minus its default exclusions (VCS metadata, CI configuration such as
//! `.github/`, `.sops.yaml`, images and archives) and the patterns of the repository's root
//! `.sourceignore` (`.gitignore` syntax, negation included). A directory kustomize-controller
//! builds without a kustomization file gets one listing every YAML file of the artifact, so a
//! GitHub workflow beside the manifests is not in it and must not be judged as an object.

use globset::{GlobBuilder, GlobMatcher};

use crate::source::{RelPath, Repo};

/// The exclusions source-controller applies when a GitRepository has no `spec.ignore`
/// (fluxcd/pkg `sourceignore`: VCS, CI and extra defaults; the image and archive extensions
/// are left out here as they never name YAML).
const DEFAULTS: &[&str] = &[
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// One `.gitignore`-style line.
#[derive(Debug)]
struct Pattern {
    glob: GlobMatcher,
    negate: bool,
    dir_only: bool,
}

/// The exclusion patterns of a repository's artifact, in order (the last match wins).
#[derive(Debug, Default)]
pub struct SourceIgnore {
    patterns: Vec<Pattern>,
}

impl SourceIgnore {
    /// The defaults plus the repository's root `.sourceignore`, if it has one.
    pub fn load(repo: &Repo) -> SourceIgnore {
        let mut s = SourceIgnore::default();
        for line in DEFAULTS {
            s.add(line);
        }
        if let Some(p) = RelPath::parse(".sourceignore")
            && repo.is_file(&p)
            && let Ok(f) = repo.read(&p)
        {
            for line in f.text.lines() {
                s.add(line);
            }
        }
        s
    }

    /// Adds one line of `.gitignore` syntax; comments, blank lines and patterns that do not
    /// compile are skipped (source-controller skips what it cannot parse too).
    fn add(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let (negate, rest) = match line.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        let (dir_only, rest) = match rest.strip_suffix('/') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        // A slash anywhere but at the end anchors the pattern to the root; otherwise it
        // matches a name at any depth.
        let glob = if rest.contains('/') { rest.trim_start_matches('/').to_string() } else { format!("**/{rest}") };
        if let Ok(g) = GlobBuilder::new(&glob).literal_separator(true).build() {
            self.patterns.push(Pattern { glob: g.compile_matcher(), negate, dir_only });
        }
    }

    /// Whether the artifact leaves out `path` (a file, or a directory with `is_dir`). The
    /// caller walks top-down and does not descend into an excluded directory, as `git`
    /// and source-controller do.
    pub fn is_excluded(&self, path: &RelPath, is_dir: bool) -> bool {
        let mut excluded = false;
        for p in &self.patterns {
            if (!p.dir_only || is_dir) && p.glob.is_match(path.as_str()) {
                excluded = !p.negate;
            }
        }
        excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    fn with(lines: &[&str]) -> SourceIgnore {
        let mut s = SourceIgnore::default();
        for l in DEFAULTS.iter().chain(lines) {
            s.add(l);
        }
        s
    }

    #[test]
    fn defaults_leave_out_ci_files_at_any_depth() {
        let s = with(&[]);
        assert!(s.is_excluded(&rel(".github"), true));
        assert!(s.is_excluded(&rel("sub/.github"), true));
        assert!(!s.is_excluded(&rel(".github"), false), "a file named .github is kept");
        assert!(s.is_excluded(&rel("apps/.sops.yaml"), false));
        assert!(s.is_excluded(&rel("cloudbuild.yaml"), false));
        assert!(!s.is_excluded(&rel("apps/app.yaml"), false));
    }

    #[test]
    fn negation_and_anchors_follow_gitignore() {
        let s = with(&["# comment", "/*", "!/apps/", "*.md", "docs/"]);
        assert!(s.is_excluded(&rel("Taskfile.yaml"), false));
        assert!(s.is_excluded(&rel("hack"), true));
        assert!(!s.is_excluded(&rel("apps"), true));
        assert!(!s.is_excluded(&rel("apps/web/deploy.yaml"), false), "/* only matches the first level");
        assert!(s.is_excluded(&rel("apps/README.md"), false));
        assert!(s.is_excluded(&rel("apps/docs"), true));
    }
}

//! The kustomize build: accumulate resources (files, bases, components), run generators, run
//! the builtin transformers in kustomize's order, then add hash suffixes and fix name
//! references. Bases are built once per run and shared.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::rules::Rule;
use crate::source::yaml::{self, Dialect, YamlErrorKind};
use crate::source::{Loc, Node, ReadError, RelPath, Repo, Value};

use super::config::TransformerConfig;
use super::diag::Diag;
use super::generator::{self, DataEntry};
use super::indexed::IndexedResources;
use super::kustomization::{
    Behavior, FILE_NAMES, GeneratorSpec, Kustomization, Located, OpenApiSpec, PatchKind, PatchSource, PatchSpec,
    Replacement, ReplacementEntry, VarSpec, inline_patch, legacy_patch_file, parse_replacement,
};
use super::memo::BaseMemo;
use super::patch::openapi::OpenApiSchema;
use super::patch::{PatchError, json6902, strategic};
use super::plugin::{self, PluginConfig};
use super::resource::{Configured, Origin, PrevId, ResId, Resource};
use super::select::Matcher;
use super::transform;

/// kustomize's `--load-restrictor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Files (patches, generator inputs, resource files) must be in or below the
    /// kustomization's directory (kustomize's default).
    RootOnly,
    /// Any file inside the repository (Flux's kustomize-controller). Nothing outside the
    /// repository root is read in either mode.
    None,
}

/// A finished render of one kustomization directory.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub resources: Vec<Resource>,
    /// Problems that did not stop the render.
    pub notes: Vec<Diag>,
    /// Every file the render read (for change detection).
    pub files: BTreeSet<RelPath>,
}

/// A failed render: the problem that stopped it, and notes gathered before.
#[derive(Clone, Debug)]
pub struct Failed {
    pub error: Diag,
    pub notes: Vec<Diag>,
    /// Every file the render read, or tried to read, before it failed (a missing file or
    /// directory is an input too): the PR gate checks the entry point when one of them changed.
    pub files: BTreeSet<RelPath>,
}

#[derive(Clone, Default)]
struct Acc {
    resources: IndexedResources,
    notes: Vec<Diag>,
    files: BTreeSet<RelPath>,
    /// Legacy vars declared so far (resolved once, at the top).
    vars: Vec<VarSpec>,
    /// Transformer configurations gathered so far (bases' apply to overlays).
    config: TransformerConfig,
    /// The schema strategic merge patches use, the same for the whole build (see [`OpenApi`]).
    openapi: OpenApi,
}

/// The OpenAPI schema of a build. kustomize keeps it in global state: the top kustomization's
/// `openapi` is set before anything is accumulated and holds for every base and overlay of the
/// build (a base's own `openapi` is then ignored); a custom schema replaces the builtin one, so
/// kinds it does not define have their lists replaced.
#[derive(Clone, Debug, Default)]
enum OpenApi {
    /// The top kustomization has no (or an empty) `openapi`: builtin schema.
    #[default]
    Undeclared,
    /// `openapi: {version: v1.21.2}`, the one builtin version kustomize v5.5 embeds.
    Builtin,
    /// `openapi: {path: FILE}`.
    Custom { file: RelPath, schema: Arc<OpenApiSchema> },
}

impl OpenApi {
    /// Cache key part: a base built under one schema is not reused under another.
    fn key(&self) -> String {
        match self {
            OpenApi::Undeclared => String::new(),
            OpenApi::Builtin => "builtin".into(),
            OpenApi::Custom { file, .. } => format!("custom:{file}"),
        }
    }
}

/// What a failed `openapi` lookup read: the kustomization file and the schema file it names.
fn openapi_inputs(k: &Kustomization) -> BTreeSet<RelPath> {
    let path = k.openapi.as_ref().and_then(|s| s.path.as_ref()).and_then(|p| k.dir.join(&p.value));
    std::iter::once(k.file.clone()).chain(path).collect()
}

/// The builtin schema version kustomize v5.5 embeds (the one `schemas/patch-meta.json` holds).
const BUILTIN_OPENAPI_VERSION: &str = "v1.21.2";

type Cached = Result<Arc<Acc>, Failed>;

/// The rendering engine for one run: shares parsed files and built bases across overlays.
pub struct Engine<'r, 'o> {
    repo: &'r Repo,
    restrictor: LoadRestrictor,
    /// Built bases by (schema key, directory), each kept while users remain.
    bases: BaseMemo<RelPath, Cached>,
    /// Parsed custom OpenAPI documents by file.
    schemas: Mutex<HashMap<RelPath, Result<Arc<OpenApiSchema>, Diag>>>,
    /// Parsed kustomization files: each is read and parsed once per run.
    kustomizations: Mutex<HashMap<RelPath, Result<Arc<Kustomization>, Diag>>>,
    observer: Option<&'o Observer<'o>>,
}

/// Sees a directory's render the moment a caller builds the directory exactly as its own
/// kustomization file says (a Flux Kustomization without targetNamespace, patches, images...),
/// before the caller amends the objects, and a base's build as its own render when its last
/// counted user has read it ([`Engine::expect_users`]): the check of the plain overlay reads
/// the same render, so it need not be built a second time.
pub type Observer<'r> = dyn Fn(&RelPath, &Result<Rendered, Failed>) + Sync + 'r;

/// Finds the kustomization file of a directory, if it has one.
pub fn kustomization_file(repo: &Repo, dir: &RelPath) -> Option<RelPath> {
    FILE_NAMES.iter().filter_map(|f| dir.join(f)).find(|p| repo.is_file(p))
}

fn read_diag(e: &ReadError, loc: Loc) -> Diag {
    match e {
        ReadError::OutsideRoot(_) => Diag::fatal(Rule::PathOutsideRoot, loc, e.to_string())
            .help("kustomizations may only refer to files inside the repository"),
        ReadError::NotFound(_) => Diag::fatal(Rule::FileNotFound, loc, e.to_string()),
        ReadError::TooLarge { .. } => Diag::fatal(Rule::YamlLimitExceeded, loc, e.to_string())
            .help("raise `limits.maxFileBytes` in .fluxgate.yaml if this file is meant to be this large"),
        // Located in the file itself, at the first byte that is not UTF-8.
        ReadError::NotUtf8 { at, .. } => Diag::fatal(Rule::YamlSyntax, *at, e.to_string())
            .help("YAML and env files must be UTF-8 text; put binary content in a generator's `files:`"),
        _ => Diag::fatal(Rule::FileNotFound, loc, e.to_string()),
    }
}

fn yaml_diag(e: &yaml::YamlError) -> Diag {
    let rule = match e.kind {
        YamlErrorKind::Syntax => Rule::YamlSyntax,
        YamlErrorKind::DuplicateKey => Rule::YamlDuplicateKey,
        YamlErrorKind::LimitExceeded => Rule::YamlLimitExceeded,
    };
    Diag::fatal(rule, e.loc, e.message.clone())
}

fn patch_diag(e: PatchError, loc: Loc) -> Diag {
    Diag::fatal(Rule::PatchFailed, e.loc.unwrap_or(loc), e.message)
}

/// Whether a kustomization entry names a remote target (URL, git or hosted-repo shorthand),
/// which fluxgate never fetches.
pub(crate) fn is_remote(s: &str) -> bool {
    (s.contains("://") && !is_file_url(s))
        || s.starts_with("git@")
        || s.starts_with("github.com/")
        || s.starts_with("gitlab.com/")
        || s.starts_with("bitbucket.org/")
}

/// Whether a kustomization document sets nothing but `apiVersion`/`kind`: null, `""` and
/// `false` count as unset, as they do once kustomize has decoded the file into its struct,
/// but an empty list or map is set (`resources: []` builds to nothing, checked with kubectl).
fn is_empty_kustomization(doc: &Node) -> bool {
    let Some(m) = doc.as_map() else { return false };
    m.iter().all(|(k, v)| {
        matches!(k.as_str(), "apiVersion" | "kind")
            || match &v.value {
                Value::Null(_) | Value::Bool(false) => true,
                Value::Str(s) => s.is_empty(),
                _ => false,
            }
    })
}

/// Whether an entry is a `file://` URL: a local path in disguise (kustomize's go-getter would
/// read it from the build machine's disk), so it is refused as leaving the repository.
pub(crate) fn is_file_url(s: &str) -> bool {
    s.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("file://"))
}

/// A `file://` entry: a located `path-outside-root` finding, never a read.
fn file_url_diag(l: &Located) -> Diag {
    Diag::fatal(
        Rule::PathOutsideRoot,
        l.loc,
        format!("'{}' is a file:// URL: fluxgate never reads from the build machine's disk", l.value),
    )
    .help("refer to files inside the repository by relative path")
}

impl<'r, 'o> Engine<'r, 'o> {
    pub fn new(repo: &'r Repo, restrictor: LoadRestrictor) -> Engine<'r, 'o> {
        Engine {
            repo,
            restrictor,
            bases: BaseMemo::new(),
            schemas: Mutex::new(HashMap::new()),
            kustomizations: Mutex::new(HashMap::new()),
            observer: None,
        }
    }

    /// This engine, calling `observer` with each render [`Engine::render_kustomization`]
    /// makes of a directory as it is.
    pub fn observed<'p>(self, observer: &'p Observer<'p>) -> Engine<'r, 'p> {
        let Engine { repo, restrictor, bases, schemas, kustomizations, observer: _ } = self;
        Engine { repo, restrictor, bases, schemas, kustomizations, observer: Some(observer) }
    }

    /// This engine without its observer (its memoised builds kept), so that what the observer
    /// borrows is free again.
    pub fn unobserved<'p>(self) -> Engine<'r, 'p> {
        let Engine { repo, restrictor, bases, schemas, kustomizations, observer: _ } = self;
        Engine { repo, restrictor, bases, schemas, kustomizations, observer: None }
    }

    pub fn repo(&self) -> &Repo {
        self.repo
    }

    /// How many built bases the memo holds (for tests of how long it keeps them).
    #[cfg(test)]
    pub(crate) fn memo_len(&self) -> usize {
        self.bases.len()
    }

    /// Counts, for the memo of built bases and the repository's cache of parsed files, the
    /// users of each directory and file that the kustomizations of `dirs` (every kustomization
    /// the run builds) list as resources: a base or a parse is then dropped once its last user
    /// has read it, so memory follows the largest render rather than the repository (see
    /// [`super::memo`], [`Repo::expect_parse_user`]). Without it everything is kept.
    pub fn expect_users<'d>(&self, dirs: impl IntoIterator<Item = &'d RelPath>) {
        // Every kustomization is parsed here, before the first build can start: in parallel,
        // counted in order.
        let dirs: Vec<&RelPath> = dirs.into_iter().collect();
        let loaded: Vec<_> = dirs.par_iter().map(|dir| self.load(dir)).collect();
        for k in loaded {
            let Ok(Some(k)) = k else { continue };
            for l in &k.resources {
                if is_remote(&l.value) || is_file_url(&l.value) {
                    continue;
                }
                match k.dir.join(&l.value) {
                    Some(p) if self.repo.is_dir(&p) => self.bases.expect_user(p),
                    Some(p) => self.repo.expect_parse_user(&p),
                    None => {}
                }
            }
            // A patch file is read once per build of its kustomization. A component's are
            // left uncounted: it is applied by every overlay listing it, which would parse
            // them again each time.
            if k.is_component {
                continue;
            }
            for p in &k.patches {
                if let PatchSource::File(l) = &p.source
                    && let Some(path) = k.dir.join(&l.value)
                {
                    self.repo.expect_parse_user(&path);
                }
            }
        }
    }

    /// Renders a kustomization directory like `kustomize build DIR`.
    pub fn render(&self, dir: &RelPath) -> Result<Rendered, Failed> {
        self.render_dir(dir, false)
    }

    /// [`Engine::render`] by the directory's last expected user: its memoised build is moved
    /// out of the memo instead of copied, so the run holds no second copy of it. A later user
    /// builds it again, with the same result.
    pub fn render_last(&self, dir: &RelPath) -> Result<Rendered, Failed> {
        self.render_dir(dir, true)
    }

    /// [`Engine::render`]; with `take`, the directory's memoised build is moved out of the
    /// memo rather than copied (its last expected user: a Flux Kustomization building the
    /// directory a plain render already built), so the run does not hold a third copy of
    /// every overlay's objects. A later user builds it again, with the same result.
    fn render_dir(&self, dir: &RelPath, take: bool) -> Result<Rendered, Failed> {
        let top = self.load_kustomization(dir, Loc::NONE, &mut Acc::default());
        if let Ok(k) = &top
            && k.is_component
        {
            // kustomize builds a Component on its own as if it had no input resources.
            return self.render_kustomization(k.clone());
        }
        let openapi = match &top {
            Ok(k) => self.openapi(k).map_err(|error| Failed { error, notes: Vec::new(), files: openapi_inputs(k) })?,
            // The error surfaces again, with its location, when the directory is built.
            Err(_) => OpenApi::Undeclared,
        };
        let mut stack = Vec::new();
        let built = self.build_base(dir, &mut stack, Loc::NONE, &openapi)?;
        if take {
            self.bases.take(&openapi.key(), dir);
        }
        let acc = match Arc::try_unwrap(built) {
            Ok(a) => a,
            Err(shared) => (*shared).clone(),
        };
        finish(acc, top.ok().as_ref())
    }

    /// Whether a directory's kustomization file declares `kind: Component` (a Component is
    /// built only as part of the kustomizations that list it, never as an entry point).
    pub fn is_component(&self, dir: &RelPath) -> bool {
        matches!(self.load(dir), Ok(Some(k)) if k.is_component)
    }

    /// Loads the kustomization of a directory (`Ok(None)` when it has no kustomization file),
    /// so a caller (Flux) can amend it before rendering.
    pub fn load(&self, dir: &RelPath) -> Result<Option<Kustomization>, Diag> {
        if kustomization_file(self.repo, dir).is_none() {
            return Ok(None);
        }
        self.load_kustomization(dir, Loc::NONE, &mut Acc::default()).map(Some)
    }

    /// Renders a kustomization given in memory (amended or generated, as Flux's
    /// kustomize-controller does), relative to its `dir`, like `kustomize build`.
    pub fn render_kustomization(&self, k: Kustomization) -> Result<Rendered, Failed> {
        // Unamended (a Flux Kustomization without targetNamespace, patches, images...): the
        // same build as the directory's own, which is memoised, so it is not built twice.
        if !k.is_component && self.is_loaded_as(&k) {
            let rendered = self.render_dir(&k.dir, true);
            if let Some(observe) = self.observer {
                observe(&k.dir, &rendered);
            }
            return rendered;
        }
        let openapi =
            self.openapi(&k).map_err(|error| Failed { error, notes: Vec::new(), files: openapi_inputs(&k) })?;
        let mut acc = Acc { openapi, ..Acc::default() };
        if let Some(f) = kustomization_file(self.repo, &k.dir) {
            acc.files.insert(f);
        }
        let mut stack = vec![k.dir.clone()];
        self.build_loaded(&k, &mut acc, &mut stack, k.is_component, Loc::NONE)?;
        finish(acc, Some(&k))
    }

    /// Runs a kustomization's transformers (patches, images, labels...) over objects given in
    /// memory rather than read from files: Flux's HelmRelease post-renderers run kustomize
    /// over Helm's output this way.
    pub fn transform_resources(&self, k: &Kustomization, resources: Vec<Resource>) -> Result<Rendered, Failed> {
        let mut acc = Acc { resources: resources.into(), ..Acc::default() };
        self.run_transformers(k, &mut acc, &mut Vec::new()).map_err(|error| Failed {
            error,
            notes: acc.notes.clone(),
            files: acc.files.clone(),
        })?;
        finish(acc, Some(k))
    }

    /// One counted user of the base `dir` has read it. The last one drops it from the memo;
    /// with an observer, the build is also handed over as the directory's own render (what
    /// [`Engine::render`] would return), so that the plain overlay of a base is checked from
    /// it now rather than built once more after every base has left the memo.
    fn served_base(&self, dir: &RelPath, openapi: &OpenApi) {
        let Some(Ok(built)) = self.bases.served(&openapi.key(), dir) else { return };
        let Some(observe) = self.observer else { return };
        let Ok(top) = self.load_kustomization(dir, Loc::NONE, &mut Acc::default()) else { return };
        // Its own build uses the schema its own kustomization selects: the same one here (a
        // custom schema file is one of the top build's inputs only, so it is left out).
        let same = |own: OpenApi| own.key() == openapi.key() && !matches!(own, OpenApi::Custom { .. });
        if top.is_component || !self.openapi(&top).is_ok_and(same) {
            return;
        }
        let acc = Arc::try_unwrap(built).unwrap_or_else(|shared| (*shared).clone());
        observe(dir, &finish(acc, Some(&top)));
    }

    /// Whether `k` is exactly its directory's kustomization file as already loaded.
    fn is_loaded_as(&self, k: &Kustomization) -> bool {
        let cache = self.kustomizations.lock().unwrap_or_else(|e| e.into_inner());
        matches!(cache.get(&k.file), Some(Ok(loaded)) if loaded.dir == k.dir && **loaded == *k)
    }

    /// Builds a directory used as a resource (memoised: a base is built once per run).
    fn build_base(
        &self,
        dir: &RelPath,
        stack: &mut Vec<RelPath>,
        loc: Loc,
        openapi: &OpenApi,
    ) -> Result<Arc<Acc>, Failed> {
        if let Some(pos) = stack.iter().position(|d| d == dir) {
            let cycle: Vec<String> = stack[pos..].iter().chain(std::iter::once(dir)).map(|d| d.to_string()).collect();
            return Err(Failed {
                error: Diag::fatal(
                    Rule::KustomizationCycle,
                    loc,
                    format!("kustomization cycle: {}", cycle.join(" -> ")),
                )
                .help("a kustomization may not include itself, directly or through its resources"),
                notes: Vec::new(),
                files: BTreeSet::new(),
            });
        }
        let key = openapi.key();
        if let Some(c) = self.bases.get(&key, dir) {
            return c;
        }
        stack.push(dir.clone());
        let mut acc = Acc { openapi: openapi.clone(), ..Acc::default() };
        let result = self.build_into(dir, &mut acc, stack, false, loc).map(|()| acc);
        stack.pop();
        let cached: Cached = result.map(Arc::new);
        // A cycle is seen from wherever the walk entered it, so that failure is not shared:
        // every entry point reports the cycle from its own side, whatever the thread order.
        let through_cycle = matches!(&cached, Err(f) if f.error.rule == Rule::KustomizationCycle);
        if !through_cycle {
            self.bases.insert(&key, dir, cached.clone());
        }
        cached
    }

    fn load_kustomization(&self, dir: &RelPath, loc: Loc, acc: &mut Acc) -> Result<Kustomization, Diag> {
        if !self.repo.is_dir(dir) {
            acc.files.insert(dir.clone());
            return Err(read_diag(&ReadError::NotFound(dir.to_string()), loc));
        }
        let file = kustomization_file(self.repo, dir).ok_or_else(|| {
            // Adding one of its kustomization files (anywhere below `dir`) changes the render.
            acc.files.insert(dir.clone());
            Diag::fatal(
                Rule::FileNotFound,
                loc,
                format!("no kustomization.yaml, kustomization.yml or Kustomization in '{dir}'"),
            )
        })?;
        acc.files.insert(file.clone());
        let src = self.repo.read(&file).map_err(|e| read_diag(&e, loc))?;
        if let Some(k) = self.kustomizations.lock().unwrap_or_else(|e| e.into_inner()).get(&file) {
            return k.as_ref().map(|k| (**k).clone()).map_err(Clone::clone);
        }
        let parsed = self.parse_kustomization(&src, dir, &file);
        self.kustomizations.lock().unwrap_or_else(|e| e.into_inner()).insert(file, parsed.clone().map(Arc::new));
        parsed
    }

    fn parse_kustomization(
        &self,
        src: &crate::source::SourceFile,
        dir: &RelPath,
        file: &RelPath,
    ) -> Result<Kustomization, Diag> {
        let file = file.clone();
        let parsed = yaml::parse(&src.text, src.id, Dialect::Yaml11, &self.repo.limits);
        if let Some(e) = &parsed.error {
            return Err(yaml_diag(e));
        }
        let doc = match parsed.docs.as_slice() {
            [d] => d.clone(),
            [] => Node::empty_map(Loc::new(src.id, 1, 1)),
            [_, second, ..] => {
                return Err(Diag::fatal(
                    Rule::KustomizationInvalid,
                    second.loc,
                    "a kustomization file must hold one YAML document",
                ));
            }
        };
        if is_empty_kustomization(&doc) {
            return Err(Diag::fatal(
                Rule::KustomizationInvalid,
                doc.loc,
                format!("{} is empty: kustomize (since 5.2) refuses to build it", file.file_name()),
            )
            .help("list what it builds under `resources:`, or delete the file"));
        }
        Kustomization::parse(&doc, dir.clone(), file)
    }

    /// Accumulates one kustomization (or component) into `acc`.
    fn build_into(
        &self,
        dir: &RelPath,
        acc: &mut Acc,
        stack: &mut Vec<RelPath>,
        component: bool,
        loc: Loc,
    ) -> Result<(), Failed> {
        let k = self.load_kustomization(dir, loc, acc).map_err(|e| Failed {
            error: e,
            notes: acc.notes.clone(),
            files: acc.files.clone(),
        })?;
        self.build_loaded(&k, acc, stack, component, loc)
    }

    /// The kustomization files of the directories `k` lists as resources or components. A
    /// build that fails stops before it reads all of them, yet it still names them: they stay
    /// bases (not leaves with leaf-only checks), and the PR gate counts them as its inputs.
    fn named_kustomizations(&self, k: &Kustomization) -> Vec<RelPath> {
        k.resources
            .iter()
            .chain(&k.components)
            .filter(|l| !is_remote(&l.value) && !is_file_url(&l.value))
            .filter_map(|l| k.dir.join(&l.value))
            .filter(|p| self.repo.is_dir(p))
            .filter_map(|p| kustomization_file(self.repo, &p))
            .collect()
    }

    /// Accumulates an already loaded (or synthesised) kustomization into `acc`.
    fn build_loaded(
        &self,
        k: &Kustomization,
        acc: &mut Acc,
        stack: &mut Vec<RelPath>,
        component: bool,
        loc: Loc,
    ) -> Result<(), Failed> {
        let fail = |error: Diag, acc: &Acc| {
            let mut files = acc.files.clone();
            files.extend(self.named_kustomizations(k));
            Failed { error, notes: acc.notes.clone(), files }
        };
        let dir = &k.dir;
        if component && !k.is_component {
            return Err(fail(
                Diag::fatal(
                    Rule::KustomizationInvalid,
                    loc,
                    format!("'{dir}' is listed as a component but its kind is not 'Component'"),
                ),
                acc,
            ));
        }
        if !component && k.is_component {
            return Err(fail(
                Diag::fatal(
                    Rule::KustomizationInvalid,
                    loc.or(k.loc),
                    format!("'{dir}' is a Component; list it under 'components', not 'resources'"),
                ),
                acc,
            ));
        }
        for (field, floc) in &k.skipped {
            if let Some(error) = refused(field, *floc) {
                return Err(fail(error, acc));
            }
            acc.notes.push(Diag::note(Rule::RenderSkipped, *floc, skip_reason(field)));
        }
        if let Some(spec) = &k.openapi {
            // The top kustomization (alone on the stack) set the build's schema; record its
            // file. A base's `openapi` is ignored by kustomize when the top declares one.
            match &acc.openapi {
                OpenApi::Custom { file, .. } if stack.len() <= 1 => {
                    acc.files.insert(file.clone());
                }
                OpenApi::Undeclared if stack.len() > 1 && declares(spec) => acc.notes.push(Diag::note(
                    Rule::RenderSkipped,
                    spec.loc,
                    "'openapi' of a base or component is not used by fluxgate: kustomize sets it globally, \
                     for whatever is patched after this base is loaded; declare it in the top kustomization",
                )),
                _ => {}
            }
        }
        for r in &k.resources {
            self.accumulate_resource(k, r, acc, stack).map_err(|e| fail(e, acc))?;
        }
        for c in &k.crds {
            let conf = self.load_crds(k, c, acc).map_err(|e| fail(e, acc))?;
            acc.config.merge(&conf);
        }
        for c in &k.configurations {
            let conf = self.load_configuration(k, c, acc).map_err(|e| fail(e, acc))?;
            acc.config.merge(&conf);
        }
        // Since kustomize 5.1 a kustomization's own generators run before its components.
        self.run_generators(k, acc, stack).map_err(|e| fail(e, acc))?;
        for c in &k.components {
            if is_file_url(&c.value) {
                return Err(fail(file_url_diag(c), acc));
            }
            if is_remote(&c.value) {
                acc.notes.push(Diag::note(
                    Rule::RenderSkipped,
                    c.loc,
                    format!("remote component '{}' skipped: fluxgate works offline", c.value),
                ));
                continue;
            }
            let cdir = dir
                .join(&c.value)
                .ok_or_else(|| fail(read_diag(&ReadError::OutsideRoot(c.value.clone()), c.loc), acc))?;
            if stack.contains(&cdir) {
                return Err(fail(
                    Diag::fatal(Rule::KustomizationCycle, c.loc, format!("component cycle through '{cdir}'")),
                    acc,
                ));
            }
            stack.push(cdir.clone());
            let r = self.build_into(&cdir, acc, stack, true, c.loc);
            stack.pop();
            r?;
        }
        self.run_transformers(k, acc, stack).map_err(|e| fail(e, acc))?;
        let var_fail = |e: transform::vars::VarError, acc: &Acc| {
            fail(Diag::fatal(Rule::KustomizationInvalid, e.loc, e.message), acc)
        };
        transform::vars::attach(&mut acc.resources, &k.vars).map_err(|e| var_fail(e, acc))?;
        transform::vars::merge(&mut acc.vars, &k.vars).map_err(|e| var_fail(e, acc))?;
        Ok(())
    }

    /// The schema a top kustomization's `openapi` field selects, with kustomize's checks: not
    /// both a path and a version, and only the version kustomize embeds.
    fn openapi(&self, k: &Kustomization) -> Result<OpenApi, Diag> {
        let Some(spec) = k.openapi.as_ref().filter(|s| declares(s)) else { return Ok(OpenApi::Undeclared) };
        match (&spec.path, &spec.version) {
            (Some(_), Some(_)) => Err(Diag::fatal(
                Rule::KustomizationInvalid,
                spec.loc,
                "builtin version and custom schema provided, cannot use both",
            )),
            (Some(path), None) => {
                let file = self.resolve_file(k, path)?;
                Ok(OpenApi::Custom { schema: self.load_schema(&file, path.loc)?, file })
            }
            (None, Some(v)) if v.value == BUILTIN_OPENAPI_VERSION => Ok(OpenApi::Builtin),
            (None, Some(v)) => Err(Diag::fatal(
                Rule::KustomizationInvalid,
                v.loc,
                format!("the specified OpenAPI version '{}' is not built in", v.value),
            )
            .help(format!("kustomize v5.5 embeds only {BUILTIN_OPENAPI_VERSION}"))),
            (None, None) => Ok(OpenApi::Undeclared),
        }
    }

    /// Parses a custom OpenAPI document (JSON or YAML), once per file and run.
    fn load_schema(&self, file: &RelPath, loc: Loc) -> Result<Arc<OpenApiSchema>, Diag> {
        if let Some(r) = self.schemas.lock().unwrap_or_else(|e| e.into_inner()).get(file) {
            return r.clone();
        }
        let result = (|| {
            let parsed = self.repo.load_yaml(file).map_err(|e| read_diag(&e, loc))?;
            if let Some(e) = &parsed.error {
                return Err(yaml_diag(e));
            }
            let doc = parsed.docs.first().map(Node::to_json).unwrap_or(serde_json::Value::Null);
            OpenApiSchema::from_json(&doc)
                .map(Arc::new)
                .map_err(|m| Diag::fatal(Rule::KustomizationInvalid, loc, format!("invalid schema file '{file}': {m}")))
        })();
        self.schemas.lock().unwrap_or_else(|e| e.into_inner()).insert(file.clone(), result.clone());
        result
    }

    /// Reads a `crds:` file (OpenAPI definitions, JSON or YAML) into transformer field specs.
    fn load_crds(&self, k: &Kustomization, l: &Located, acc: &mut Acc) -> Result<TransformerConfig, Diag> {
        let path = self.resolve_file(k, l)?;
        let parsed = self.repo.load_yaml(&path).map_err(|e| read_diag(&e, l.loc))?;
        acc.files.insert(path);
        if let Some(e) = &parsed.error {
            return Err(yaml_diag(e));
        }
        let doc = parsed.docs.first().map(Node::to_json).unwrap_or(serde_json::Value::Null);
        Ok(TransformerConfig::from_openapi_definitions(&doc))
    }

    /// Reads a transformer configuration file (`configurations:`), one or more documents.
    fn load_configuration(&self, k: &Kustomization, l: &Located, acc: &mut Acc) -> Result<TransformerConfig, Diag> {
        let path = self.resolve_file(k, l)?;
        acc.files.insert(path.clone());
        let parsed = self.repo.load_yaml(&path).map_err(|e| read_diag(&e, l.loc))?;
        if let Some(e) = &parsed.error {
            return Err(yaml_diag(e));
        }
        let mut conf = TransformerConfig::default();
        for doc in &parsed.docs {
            conf.merge(&TransformerConfig::parse(doc)?);
        }
        Ok(conf)
    }

    /// Resolves a file a kustomization names, applying the load restrictor.
    fn resolve_file(&self, k: &Kustomization, l: &Located) -> Result<RelPath, Diag> {
        let p = k.dir.join(&l.value).ok_or_else(|| read_diag(&ReadError::OutsideRoot(l.value.clone()), l.loc))?;
        if self.restrictor == LoadRestrictor::RootOnly && !p.starts_with(&k.dir) {
            return Err(Diag::fatal(
                Rule::PathOutsideRoot,
                l.loc,
                format!("'{}' is not in or below '{}' (load restrictor LoadRestrictionsRootOnly)", l.value, k.dir),
            )
            .help("move the file below the kustomization, or render with --load-restrictor LoadRestrictionsNone"));
        }
        Ok(p)
    }

    fn append(&self, acc: &mut Acc, r: Resource, loc: Loc) -> Result<(), Diag> {
        let id = r.effective_id();
        if let Some(prev) = acc.resources.find(&id) {
            let prev_loc = prev.loc();
            let at = self
                .repo
                .file_of(prev_loc)
                .map(|f| format!(" (first defined in {}:{})", f.path, prev_loc.line))
                .unwrap_or_default();
            return Err(Diag::fatal(
                Rule::DuplicateObject,
                r.loc().or(loc),
                format!("{id} is defined twice in this render{at}"),
            )
            .help("remove one of the definitions, or patch the base object instead of redefining it"));
        }
        acc.resources.push_with_id(r, id);
        Ok(())
    }

    fn accumulate_resource(
        &self,
        k: &Kustomization,
        l: &Located,
        acc: &mut Acc,
        stack: &mut Vec<RelPath>,
    ) -> Result<(), Diag> {
        if is_file_url(&l.value) {
            return Err(file_url_diag(l));
        }
        if is_remote(&l.value) {
            acc.notes.push(Diag::note(
                Rule::RenderSkipped,
                l.loc,
                format!("remote resource '{}' skipped: fluxgate works offline", l.value),
            ));
            return Ok(());
        }
        let p = k.dir.join(&l.value).ok_or_else(|| read_diag(&ReadError::OutsideRoot(l.value.clone()), l.loc))?;
        if self.repo.is_dir(&p) {
            let openapi = acc.openapi.clone();
            let base = self.build_base(&p, stack, l.loc, &openapi);
            self.served_base(&p, &openapi);
            let base = base.map_err(|f| {
                acc.notes.extend(f.notes.iter().cloned());
                acc.files.extend(f.files.iter().cloned());
                f.error
            })?;
            acc.notes.extend(base.notes.iter().cloned());
            acc.files.extend(base.files.iter().cloned());
            transform::vars::merge(&mut acc.vars, &base.vars)
                .map_err(|e| Diag::fatal(Rule::KustomizationInvalid, l.loc, e.message))?;
            acc.config.merge(&base.config);
            for r in base.resources.iter() {
                self.append(acc, r.clone(), l.loc)?;
            }
            return Ok(());
        }
        let p = self.resolve_file(k, l)?;
        let objects = self.load_objects(&p, l.loc, acc);
        self.repo.parse_served(&p);
        for r in objects? {
            self.append(acc, r, l.loc)?;
        }
        Ok(())
    }

    /// Reads a resource file into objects, checking each is a well-formed object.
    fn load_objects(&self, p: &RelPath, loc: Loc, acc: &mut Acc) -> Result<Vec<Resource>, Diag> {
        acc.files.insert(p.clone());
        let parsed = self.repo.load_yaml(p).map_err(|e| read_diag(&e, loc))?;
        if let Some(e) = &parsed.error {
            return Err(yaml_diag(e));
        }
        let mut out = Vec::new();
        for doc in &parsed.docs {
            // A `List` is flattened into its items, as kustomize does.
            if doc.str_at(&["kind"]).is_some_and(|k| k.ends_with("List"))
                && doc.get("items").is_some_and(|i| i.as_seq().is_some())
            {
                for item in doc.get("items").and_then(Node::as_seq).into_iter().flatten() {
                    let mut r = Resource::new(check_object(item)?);
                    r.origin = Some(Origin::File(p.clone()));
                    out.push(r);
                }
                continue;
            }
            let mut r = Resource::new(check_object(doc)?);
            r.origin = Some(Origin::File(p.clone()));
            out.push(r);
        }
        Ok(out)
    }

    fn run_generators(&self, k: &Kustomization, acc: &mut Acc, stack: &mut Vec<RelPath>) -> Result<(), Diag> {
        for g in &k.generators {
            self.run_generator(k, g, None, acc)?;
        }
        for (config, from) in self.plugins(k, &k.generator_plugins, acc, stack)? {
            if let PluginConfig::Iam(iam) = &config {
                let mut r = Resource::new(iam_service_account(iam, from.loc));
                r.origin = Some(Origin::Generator(Box::new(from.configured(config.kind()))));
                self.append(acc, r, from.loc)?;
                continue;
            }
            let PluginConfig::Generator(g) = &config else {
                return Err(Diag::fatal(
                    Rule::KustomizationInvalid,
                    from.loc,
                    format!("plugin {} '{}' is not a generator", config.kind(), from.name.as_deref().unwrap_or("")),
                )
                .help("list transformers under 'transformers:', as kustomize requires"));
            };
            self.run_generator(k, g, Some(&from.configured(config.kind())), acc)?;
        }
        Ok(())
    }

    /// Loads the plugin configurations of a `transformers:` / `generators:` entry.
    /// kustomize takes inline entries first, then files and directories, each in the order
    /// listed; a directory is a kustomization whose resources are plugin configurations (its
    /// own transformers may change them). Paths inside a configuration stay relative to `k`.
    fn plugins(
        &self,
        k: &Kustomization,
        list: &[Located],
        acc: &mut Acc,
        stack: &mut Vec<RelPath>,
    ) -> Result<Vec<(PluginConfig, PluginFrom)>, Diag> {
        let inline = list.iter().filter(|l| l.value.contains('\n'));
        let files = list.iter().filter(|l| !l.value.contains('\n'));
        let mut out = Vec::new();
        for l in inline.chain(files) {
            let docs: Vec<(Node, RelPath)> = if l.value.contains('\n') {
                let docs = self.patch_docs(k, &inline_patch(&l.value, l.loc), acc, Dialect::Yaml12)?;
                docs.into_iter().map(|d| (d, k.file.clone())).collect()
            } else {
                let p =
                    k.dir.join(&l.value).ok_or_else(|| read_diag(&ReadError::OutsideRoot(l.value.clone()), l.loc))?;
                if self.repo.is_dir(&p) {
                    self.plugin_dir(&p, l.loc, acc, stack)?
                } else {
                    let file = self.resolve_file(k, l)?;
                    let docs = self.patch_docs(k, &legacy_patch_file(l.clone()), acc, Dialect::Yaml12)?;
                    docs.into_iter().map(|d| (d, file.clone())).collect()
                }
            };
            for (doc, file) in docs.iter().filter(|(d, _)| !d.is_null()) {
                let config = plugin::parse(doc)?;
                out.push((
                    config,
                    PluginFrom {
                        file: file.clone(),
                        name: doc.str_at(&["metadata", "name"]).map(str::to_string),
                        namespace: doc.str_at(&["metadata", "namespace"]).map(str::to_string),
                        loc: doc.loc.or(l.loc),
                    },
                ));
            }
        }
        Ok(out)
    }

    /// The plugin configurations a directory of `transformers:` / `generators:` builds to,
    /// each with the file it came from.
    fn plugin_dir(
        &self,
        dir: &RelPath,
        loc: Loc,
        acc: &mut Acc,
        stack: &mut Vec<RelPath>,
    ) -> Result<Vec<(Node, RelPath)>, Diag> {
        let openapi = acc.openapi.clone();
        let base = self.build_base(dir, stack, loc, &openapi).map_err(|f| {
            acc.notes.extend(f.notes.iter().cloned());
            f.error
        })?;
        acc.notes.extend(base.notes.iter().cloned());
        acc.files.extend(base.files.iter().cloned());
        let file = kustomization_file(self.repo, dir).unwrap_or_else(|| dir.clone());
        Ok(base
            .resources
            .iter()
            .map(|r| {
                let from = match &r.origin {
                    Some(Origin::File(f)) => f.clone(),
                    _ => file.clone(),
                };
                (r.node.clone(), from)
            })
            .collect())
    }

    /// Runs the builtin plugin configurations of `transformers:`, in order.
    fn run_plugin_transformers(&self, k: &Kustomization, acc: &mut Acc, stack: &mut Vec<RelPath>) -> Result<(), Diag> {
        for (config, from) in self.plugins(k, &k.transformer_plugins, acc, stack)? {
            let loc = from.loc;
            {
                match &config {
                    PluginConfig::Generator(_) => {
                        return Err(Diag::fatal(
                            Rule::KustomizationInvalid,
                            loc,
                            format!(
                                "plugin {} '{}' is not a transformer",
                                config.kind(),
                                from.name.as_deref().unwrap_or("")
                            ),
                        )
                        .help("list generators under 'generators:', as kustomize requires"));
                    }
                    PluginConfig::Patches { patches: ps, .. } => {
                        for p in ps {
                            self.apply_patch(k, p, acc)?;
                        }
                    }
                    PluginConfig::Affix { prefix, suffix, fields, .. } => {
                        // A PrefixSuffixTransformer runs the prefix pass, then the suffix pass.
                        transform::fields::affix_by_specs(&mut acc.resources, prefix, "", fields);
                        transform::fields::affix_by_specs(&mut acc.resources, "", suffix, fields);
                    }
                    PluginConfig::ValueAdd(va) => self.value_add(k, va, acc)?,
                    PluginConfig::Hash => {
                        for r in acc.resources.iter_mut().filter(|r| r.needs_hash) {
                            let name = format!("{}-{}", r.name(), generator::hash_suffix(&r.node));
                            r.set_name(name);
                        }
                    }
                    PluginConfig::Iam(_) => {
                        return Err(Diag::fatal(
                            Rule::KustomizationInvalid,
                            loc,
                            format!(
                                "plugin IAMPolicyGenerator '{}' is not a transformer",
                                from.name.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                    PluginConfig::Labels { pairs, fields } | PluginConfig::Annotations { pairs, fields } => {
                        transform::fields::set_pairs_at(&mut acc.resources, pairs, fields, loc);
                    }
                    PluginConfig::Namespace { namespace, fields, options } => {
                        // kustomize's plugin does nothing without a namespace.
                        if !namespace.value.is_empty() {
                            transform::namespace::apply(&mut acc.resources, &namespace.value, loc, fields, *options)
                                .map_err(|m| Diag::fatal(Rule::KustomizationInvalid, loc, m))?;
                        }
                    }
                    PluginConfig::Image { image, fields } => {
                        transform::images::apply(&mut acc.resources, std::slice::from_ref(image), fields)
                            .map_err(|m| Diag::fatal(Rule::KustomizationInvalid, loc, m))?;
                    }
                    PluginConfig::Replicas { replica, fields } => {
                        if !transform::replicas::apply(&mut acc.resources, std::slice::from_ref(replica), fields)
                            .is_empty()
                        {
                            return Err(Diag::fatal(
                                Rule::PatchTargetNotFound,
                                loc,
                                format!("ReplicaCountTransformer: no object named '{}'", replica.name),
                            ));
                        }
                    }
                    PluginConfig::Replacements(entries) => {
                        let list = self.replacement_list(k, entries, acc)?;
                        transform::replacements::apply_bounded(
                            &mut acc.resources,
                            &list,
                            self.repo.limits.max_object_nodes,
                        )
                        .map_err(|e| Diag::fatal(Rule::KustomizationInvalid, e.loc, e.message))?;
                    }
                }
                let c = std::sync::Arc::new(from.configured(config.kind()));
                for r in acc.resources.iter_mut() {
                    r.transformations.push(&c);
                }
            }
        }
        Ok(())
    }

    /// Runs a `ValueAddTransformer`: its value (by default the kustomization directory's name)
    /// into each target's field of the objects its selector picks (all without one).
    fn value_add(&self, k: &Kustomization, va: &plugin::ValueAdd, acc: &mut Acc) -> Result<(), Diag> {
        let mut targets = va.targets.clone();
        if let Some(l) = &va.target_file {
            let path = self.resolve_file(k, l)?;
            let parsed = self.repo.load_yaml(&path).map_err(|e| read_diag(&e, l.loc))?;
            acc.files.insert(path);
            if let Some(e) = &parsed.error {
                return Err(yaml_diag(e));
            }
            for doc in &parsed.docs {
                targets.extend(plugin::value_targets(doc.get("targets"))?);
            }
        }
        let value = if va.value.is_empty() {
            let abs = self.repo.abs(&k.dir);
            abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        } else {
            va.value.clone()
        };
        let loc = va.target_file.as_ref().map_or(Loc::NONE, |l| l.loc);
        for t in &targets {
            let m = t
                .selector
                .as_ref()
                .map(Matcher::new)
                .transpose()
                .map_err(|e| Diag::fatal(Rule::KustomizationInvalid, loc, e))?;
            let path = transform::fields::value_path(&t.field_path);
            for r in acc.resources.iter_mut().filter(|r| m.as_ref().is_none_or(|m| m.matches(r))) {
                if t.field_path == "metadata/namespace" {
                    let opts = transform::namespace::Options::default();
                    transform::namespace::apply(std::slice::from_mut(r), &value, loc, &[], opts)
                        .map_err(|m| Diag::fatal(Rule::KustomizationInvalid, loc, m))?;
                    continue;
                }
                let position = usize::try_from(t.file_path_position).unwrap_or(0);
                transform::fields::value_add(&mut r.node, &path, &value, position, loc)
                    .map_err(|m| Diag::fatal(Rule::KustomizationInvalid, loc, format!("ValueAddTransformer: {m}")))?;
            }
        }
        Ok(())
    }

    /// Runs one generator; `origin` names the plugin configuration it came from, if any.
    fn run_generator(
        &self,
        k: &Kustomization,
        g: &GeneratorSpec,
        origin: Option<&Configured>,
        acc: &mut Acc,
    ) -> Result<(), Diag> {
        {
            let mut entries = Vec::new();
            for e in &g.envs {
                let p = self.resolve_file(k, e)?;
                acc.files.insert(p.clone());
                let src = self.repo.read(&p).map_err(|err| read_diag(&err, e.loc))?;
                let kv = generator::parse_env_file(&src.text)
                    .map_err(|(line, msg)| Diag::fatal(Rule::KustomizationInvalid, Loc::new(src.id, line, 1), msg))?;
                for (key, value, line) in kv {
                    entries.push(DataEntry { key, value: value.into_bytes(), loc: Loc::new(src.id, line, 1) });
                }
            }
            for lit in &g.literals {
                let (key, value) = generator::split_literal(&lit.value).ok_or_else(|| {
                    Diag::fatal(
                        Rule::KustomizationInvalid,
                        lit.loc,
                        format!("literal '{}' is not KEY=VALUE", lit.value),
                    )
                })?;
                entries.push(DataEntry { key, value: value.into_bytes(), loc: lit.loc });
            }
            for f in &g.files {
                let (key, path) = match f.value.split_once('=') {
                    Some((k, p)) => (k.to_string(), p.to_string()),
                    None => (f.value.rsplit('/').next().unwrap_or(&f.value).to_string(), f.value.clone()),
                };
                // kustomize downloads a file named by URL; fluxgate does not use the network.
                if path.starts_with("https://") || path.starts_with("http://") {
                    acc.notes.push(Diag::note(
                        Rule::RenderSkipped,
                        f.loc,
                        format!("generator file '{path}' is downloaded by kustomize; key '{key}' is left empty here and its content is not checked"),
                    ));
                    entries.push(DataEntry { key, value: Vec::new(), loc: f.loc });
                    continue;
                }
                let p = self.resolve_file(k, &Located { value: path, loc: f.loc })?;
                acc.files.insert(p.clone());
                let bytes = self.read_bytes(&p, f.loc)?;
                entries.push(DataEntry { key, value: bytes, loc: f.loc });
            }
            // kustomize reads env files, then literals, then files, and refuses a key twice.
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = entries.iter().find(|e| !seen.insert(e.key.as_str())) {
                return Err(Diag::fatal(
                    Rule::KustomizationInvalid,
                    dup.loc,
                    format!("configmap {} illegally repeats the key `{}`", g.name, dup.key),
                )
                .help("each key may come from one literal, file or env file line only"));
            }
            // A plugin configuration carries its own `options`; the kustomization's
            // `generatorOptions` apply only to its own generator fields.
            let defaults = super::kustomization::GeneratorOptions::default();
            let options = if origin.is_some() { &defaults } else { &k.generator_options };
            let mut obj = generator::make_object(g, options, entries);
            let kind = if g.is_secret { "SecretGenerator" } else { "ConfigMapGenerator" };
            let by = origin.cloned().unwrap_or(Configured { file: k.file.clone(), kind, name: None, namespace: None });
            obj.origin = Some(Origin::Generator(Box::new(by)));
            let id = obj.id();
            // kustomize matches the generated id (an unset namespace is `default`) against every
            // id an object has had; more than one match is ambiguous.
            let ns = g.namespace.as_deref().unwrap_or("");
            let kind = id.gvk.kind.as_str();
            let mut matching = acc.resources.iter_mut().filter(|r| r.has_any_id("v1", kind, &g.name, ns));
            let existing = matching.next();
            if existing.is_some() && matching.next().is_some() {
                return Err(Diag::fatal(
                    Rule::DuplicateObject,
                    g.loc,
                    format!("found multiple objects that could accept merge of {id}"),
                ));
            }
            match (g.behavior, existing) {
                (Behavior::Create, Some(_)) => {
                    return Err(Diag::fatal(
                        Rule::DuplicateObject,
                        g.loc,
                        format!("{id} already exists; use 'behavior: merge' or 'behavior: replace'"),
                    ));
                }
                (Behavior::Create, None) => acc.resources.push(obj),
                (Behavior::Merge, Some(r)) => {
                    generator::merge_into(&mut r.node, &obj.node);
                    r.needs_hash = r.needs_hash && obj.needs_hash;
                }
                (Behavior::Replace, Some(r)) => {
                    generator::replace_into(&mut r.node, &obj.node);
                    // The replacing generator is the object's origin now (a merge keeps the old one).
                    r.origin = obj.origin.clone();
                    r.needs_hash = r.needs_hash && obj.needs_hash;
                }
                (_, None) => {
                    return Err(Diag::fatal(
                        Rule::KustomizationInvalid,
                        g.loc,
                        format!("cannot merge or replace {id}: no such object in the bases"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn read_bytes(&self, p: &RelPath, loc: Loc) -> Result<Vec<u8>, Diag> {
        self.repo.read_bytes(p).map_err(|e| read_diag(&e, loc))
    }

    fn run_transformers(&self, k: &Kustomization, acc: &mut Acc, stack: &mut Vec<RelPath>) -> Result<(), Diag> {
        // Each builtin transformer that runs is recorded on every object, for
        // `buildMetadata: [transformerAnnotations]`.
        let mark = |acc: &mut Acc, kind: &'static str| {
            let c = std::sync::Arc::new(Configured { file: k.file.clone(), kind, name: None, namespace: None });
            for r in acc.resources.iter_mut() {
                r.transformations.push(&c);
            }
        };
        let legacy: Vec<&PatchSpec> = k.patches.iter().filter(|p| p.kind == PatchKind::LegacyStrategicMerge).collect();
        for p in &legacy {
            self.apply_patch(k, p, acc)?;
        }
        if !legacy.is_empty() {
            mark(acc, "PatchStrategicMergeTransformer");
        }
        for p in k.patches.iter().filter(|p| p.kind == PatchKind::Auto) {
            self.apply_patch(k, p, acc)?;
            mark(acc, "PatchTransformer");
        }
        if let Some(ns) = k.namespace.as_ref().filter(|ns| !ns.value.is_empty()) {
            let mut fields = transform::namespace::default_fields();
            fields.extend(acc.config.namespace.iter().cloned());
            let opts = transform::namespace::Options::default();
            transform::namespace::apply(&mut acc.resources, &ns.value, ns.loc, &fields, opts).map_err(|m| {
                Diag::fatal(Rule::KustomizationInvalid, ns.loc, m)
                    .help("kustomize fails here too: objects that differ only in namespace (or several Namespace objects) collide once 'namespace' is set")
            })?;
            mark(acc, "NamespaceTransformer");
        }
        let prefix = k.name_prefix.as_ref().map_or("", |l| l.value.as_str());
        let suffix = k.name_suffix.as_ref().map_or("", |l| l.value.as_str());
        let extra = (acc.config.name_prefix.as_slice(), acc.config.name_suffix.as_slice());
        transform::name_affix::apply(&mut acc.resources, prefix, suffix, extra);
        if !prefix.is_empty() {
            mark(acc, "PrefixTransformer");
        }
        if !suffix.is_empty() {
            mark(acc, "SuffixTransformer");
        }
        for l in &k.labels {
            if l.include_selectors && !acc.config.common_labels.is_empty() {
                let mut l = l.clone();
                l.fields.extend(acc.config.common_labels.iter().cloned());
                transform::labels::apply(&mut acc.resources, &l);
            } else {
                transform::labels::apply(&mut acc.resources, l);
            }
            mark(acc, "LabelTransformer");
        }
        if !k.labels.is_empty() && !k.common_labels_entry {
            mark(acc, "LabelTransformer");
        }
        if !k.common_annotations.is_empty() {
            transform::annotations::apply(
                &mut acc.resources,
                &k.common_annotations,
                k.common_annotations_loc,
                &acc.config.common_annotations,
            );
            mark(acc, "AnnotationsTransformer");
        }
        for p in k.patches.iter().filter(|p| p.kind == PatchKind::Json6902) {
            self.apply_patch(k, p, acc)?;
            mark(acc, "PatchJson6902Transformer");
        }
        // kustomize fails the build when a replicas entry matches nothing.
        if let Some(spec) = transform::replicas::apply(&mut acc.resources, &k.replicas, &acc.config.replicas).first() {
            return Err(Diag::fatal(
                Rule::PatchTargetNotFound,
                spec.loc,
                format!(
                    "replicas entry '{}' matches no Deployment, StatefulSet, ReplicaSet or ReplicationController",
                    spec.name
                ),
            )
            .help("kustomize stops with an error here; fix the name or remove the entry"));
        }
        for _ in &k.replicas {
            mark(acc, "ReplicaCountTransformer");
        }
        let image_fields = transform::images::with_default_fields(&acc.config.images);
        transform::images::apply(&mut acc.resources, &k.images, &image_fields).map_err(|m| {
            let loc = k.images.first().map_or(k.loc, |i| i.loc);
            Diag::fatal(Rule::KustomizationInvalid, loc, m)
        })?;
        for _ in &k.images {
            mark(acc, "ImageTagTransformer");
        }
        let replacements = self.replacements(k, acc)?;
        transform::replacements::apply_bounded(&mut acc.resources, &replacements, self.repo.limits.max_object_nodes)
            .map_err(|e| Diag::fatal(Rule::KustomizationInvalid, e.loc, e.message))?;
        if !replacements.is_empty() {
            mark(acc, "ReplacementTransformer");
        }
        self.run_plugin_transformers(k, acc, stack)
    }

    /// The kustomization's replacements, reading `path:` entries (a list, or one per document).
    fn replacements(&self, k: &Kustomization, acc: &mut Acc) -> Result<Vec<Replacement>, Diag> {
        self.replacement_list(k, &k.replacements, acc)
    }

    /// Replacements of a list of entries, reading `path:` entries relative to `k`.
    fn replacement_list(
        &self,
        k: &Kustomization,
        entries: &[ReplacementEntry],
        acc: &mut Acc,
    ) -> Result<Vec<Replacement>, Diag> {
        let mut out = Vec::new();
        for e in entries {
            match e {
                ReplacementEntry::Inline(r) => out.push(r.clone()),
                ReplacementEntry::File(l) => {
                    let path = self.resolve_file(k, l)?;
                    acc.files.insert(path.clone());
                    let parsed = self.repo.load_yaml(&path).map_err(|e| read_diag(&e, l.loc))?;
                    if let Some(e) = &parsed.error {
                        return Err(yaml_diag(e));
                    }
                    for doc in &parsed.docs {
                        match doc.as_seq() {
                            Some(items) => {
                                for item in items {
                                    out.push(parse_replacement(item)?);
                                }
                            }
                            None => out.push(parse_replacement(doc)?),
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Loads a patch's documents, located in the file they came from.
    /// JSON 6902 patches are read as YAML 1.1 (kustomize converts them with go-yaml v2, so
    /// `value: yes` is `true`); strategic merge patches as YAML 1.2.
    fn patch_docs(&self, k: &Kustomization, p: &PatchSpec, acc: &mut Acc, dialect: Dialect) -> Result<Vec<Node>, Diag> {
        match &p.source {
            PatchSource::Node(n) => Ok(vec![n.clone()]),
            PatchSource::File(l) if dialect == Dialect::Yaml11 => {
                let path = self.resolve_file(k, l)?;
                acc.files.insert(path.clone());
                let src = self.repo.read(&path).map_err(|e| read_diag(&e, l.loc))?;
                let parsed = yaml::parse(&src.text, src.id, dialect, &self.repo.limits);
                if let Some(e) = &parsed.error {
                    return Err(yaml_diag(e));
                }
                Ok(parsed.docs)
            }
            PatchSource::File(l) => {
                let path = self.resolve_file(k, l)?;
                acc.files.insert(path.clone());
                let parsed = self.repo.load_yaml(&path).map_err(|e| read_diag(&e, l.loc))?;
                self.repo.parse_served(&path);
                if let Some(e) = &parsed.error {
                    return Err(yaml_diag(e));
                }
                Ok(parsed.docs.clone())
            }
            PatchSource::Inline { text, loc, .. } => {
                let parsed = yaml::parse(text, loc.file, dialect, &self.repo.limits);
                let (dl, dc) = self.inline_offset(*loc);
                let mut docs = parsed.docs;
                for d in docs.iter_mut() {
                    shift(d, dl, dc);
                }
                if let Some(mut e) = parsed.error {
                    e.loc.line += dl;
                    e.loc.col += dc;
                    return Err(yaml_diag(&e));
                }
                Ok(docs)
            }
        }
    }

    /// Where an inline block scalar's text starts relative to its `|` indicator.
    fn inline_offset(&self, loc: Loc) -> (u32, u32) {
        let Some(f) = self.repo.file_of(loc) else { return (0, 0) };
        let indicator = f.line_text(loc.line).unwrap_or("");
        let after = indicator.get((loc.col as usize).saturating_sub(1)..).unwrap_or("").trim_start();
        if after.starts_with('|') || after.starts_with('>') {
            let next = f.line_text(loc.line + 1).unwrap_or("");
            let indent = next.len() - next.trim_start().len();
            (loc.line, indent as u32)
        } else {
            (loc.line - 1, loc.col)
        }
    }

    // long: kustomize's PatchTransformer in one place: JSON 6902 or strategic merge, target
    // selection, name-change rules and the error each failure gives, in kustomize's order.
    fn apply_patch(&self, k: &Kustomization, p: &PatchSpec, acc: &mut Acc) -> Result<(), Diag> {
        let mut docs = self.patch_docs(k, p, acc, Dialect::Yaml12)?;
        if docs.iter().all(Node::is_null) {
            let text = match &p.source {
                PatchSource::File(l) => {
                    Some(self.repo.read(&self.resolve_file(k, l)?).map_err(|e| read_diag(&e, l.loc))?)
                }
                _ => None,
            };
            empty_patch(p, text.as_ref().map(|t| t.text.as_str()))?;
        }
        let is_json = p.kind == PatchKind::Json6902 || docs.first().is_some_and(|d| d.as_seq().is_some());
        if is_json {
            docs = self.patch_docs(k, p, acc, Dialect::Yaml11)?;
            let ops = docs.first().cloned().unwrap_or_else(|| Node::new(Value::Seq(Vec::new()), p.loc));
            let Some(target) = &p.target else {
                return Err(Diag::fatal(Rule::KustomizationInvalid, p.loc, "a JSON 6902 patch needs a 'target'"));
            };
            let m = Matcher::new(target).map_err(|e| Diag::fatal(Rule::KustomizationInvalid, p.loc, e))?;
            let mut hit = false;
            for r in acc.resources.iter_mut().filter(|r| m.matches(r)) {
                hit = true;
                let (before, was) = (r.id(), r.prev_id());
                json6902::apply_json6902_bounded(&mut r.node, &ops, ops.loc, &self.repo.limits)
                    .map_err(|e| patch_diag(e, p.loc))?;
                stringify_annotations(&mut r.node);
                check_rename(r, &before, was, p, true)?;
            }
            // A component's patches are meant for whatever it is applied to: no match is fine.
            if !hit && !k.is_component {
                acc.notes.push(not_found(p, "JSON 6902 patch target"));
            }
            return Ok(());
        }
        // Objects by every name they had, for the documents without a target (a file of many
        // such patches would otherwise scan every object per document); rebuilt after a
        // document deletes objects, extended when one renames its target.
        let mut by_name: Option<HashMap<String, Vec<usize>>> = None;
        for doc in &docs {
            if doc.as_map().is_none() {
                return Err(Diag::fatal(Rule::PatchFailed, doc.loc, "a strategic merge patch must be a map"));
            }
            let targets: Vec<usize> = match &p.target {
                Some(t) => {
                    let m = Matcher::new(t).map_err(|e| Diag::fatal(Rule::KustomizationInvalid, p.loc, e))?;
                    acc.resources.iter().enumerate().filter(|(_, r)| m.matches(r)).map(|(i, _)| i).collect()
                }
                None => {
                    let kind = doc.str_at(&["kind"]).unwrap_or("");
                    let name = doc.str_at(&["metadata", "name"]).unwrap_or("");
                    let ns = doc.str_at(&["metadata", "namespace"]);
                    let api = doc.str_at(&["apiVersion"]);
                    if kind.is_empty() || name.is_empty() {
                        return Err(Diag::fatal(
                            Rule::PatchFailed,
                            doc.loc,
                            "a strategic merge patch without a target needs 'kind' and 'metadata.name'",
                        ));
                    }
                    let api = api.unwrap_or("");
                    let ns = ns.unwrap_or("");
                    let index = by_name.get_or_insert_with(|| names_index(&acc.resources));
                    let mut found: Vec<usize> = index
                        .get(name)
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|&i| acc.resources[i].has_any_id(api, kind, name, ns))
                        .collect();
                    found.sort_unstable();
                    found.dedup();
                    if found.len() > 1 {
                        return Err(Diag::fatal(
                            Rule::PatchFailed,
                            doc.loc,
                            format!("multiple matches for {kind} '{name}'; failed to find unique target for patch"),
                        )
                        .help("kustomize needs one object per patch: several objects had this name in some layer (give the patch a 'target' that tells them apart)"));
                    }
                    found
                }
            };
            if targets.is_empty() {
                if p.target.is_none() {
                    let what = format!(
                        "{} '{}'",
                        doc.str_at(&["kind"]).unwrap_or("?"),
                        doc.str_at(&["metadata", "name"]).unwrap_or("?")
                    );
                    return Err(Diag::fatal(Rule::PatchTargetNotFound, doc.loc, format!("no resource matches strategic merge patch for {what}"))
                        .help("check the patch's kind and metadata.name against the resources of this kustomization and its bases"));
                }
                if !k.is_component {
                    acc.notes.push(not_found(p, "patch target"));
                }
                continue;
            }
            let custom = match &acc.openapi {
                OpenApi::Custom { schema, .. } => Some(Arc::clone(schema)),
                _ => None,
            };
            let mut delete = Vec::new();
            for &i in &targets {
                let r = &mut acc.resources[i];
                let (before, was) = (r.id(), r.prev_id());
                let ns_before = r.node.path(&["metadata", "namespace"]).cloned();
                let mut patch = doc.clone();
                if p.target.is_some() {
                    // With an explicit target the patch's own identity fields do not rename it,
                    // unless the options allow a name or kind change.
                    if let Some(m) = patch.as_map_mut() {
                        if let Some(meta) = m.get_mut("metadata").and_then(Node::as_map_mut) {
                            if !p.allow_name_change {
                                meta.shift_remove("name");
                            }
                            meta.shift_remove("namespace");
                        }
                        if !p.allow_kind_change {
                            m.shift_remove("apiVersion");
                            m.shift_remove("kind");
                        }
                    }
                }
                if patch.str_at(&["$patch"]) == Some("delete") {
                    delete.push(i);
                    continue;
                }
                let applied = match &custom {
                    Some(schema) => {
                        let meta = schema.meta_for(
                            r.node.str_at(&["apiVersion"]).unwrap_or_default(),
                            r.node.str_at(&["kind"]).unwrap_or_default(),
                        );
                        strategic::apply_strategic(&mut r.node, &patch, &meta)
                    }
                    None => {
                        let meta = super::patch::meta::BuiltinMeta::for_object(&r.node);
                        strategic::apply_strategic(&mut r.node, &patch, &meta)
                    }
                };
                applied.map_err(|e| patch_diag(e, doc.loc))?;
                if r.node.is_null() {
                    delete.push(i);
                    continue;
                }
                check_rename(r, &before, was, p, false)?;
                // kustomize puts the namespace back after a strategic merge patch, also on a
                // cluster-scoped object (whose id has none).
                if let Some(m) = r.node.get_mut("metadata").and_then(Node::as_map_mut) {
                    match &ns_before {
                        Some(n) => {
                            m.insert("namespace".into(), n.clone());
                        }
                        None => {
                            m.shift_remove("namespace");
                        }
                    }
                }
            }
            if !delete.is_empty() {
                by_name = None;
            } else if let Some(index) = &mut by_name {
                for i in targets {
                    let positions = index.entry(acc.resources[i].name().to_string()).or_default();
                    if !positions.contains(&i) {
                        positions.push(i);
                    }
                }
            }
            for i in delete.into_iter().rev() {
                acc.resources.remove(i);
            }
        }
        Ok(())
    }
}

/// Every object's position under each name it has or had.
fn names_index(resources: &[Resource]) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::with_capacity(resources.len());
    for (i, r) in resources.iter().enumerate() {
        for name in std::iter::once(r.name()).chain(r.previous.iter().map(|p| p.name.as_str())) {
            let positions = out.entry(name.to_string()).or_default();
            if positions.last() != Some(&i) {
                positions.push(i);
            }
        }
    }
    out
}

/// Whether an `openapi` field selects anything: kustomize treats an empty version (or an
/// empty map) as not set.
fn declares(spec: &OpenApiSpec) -> bool {
    spec.path.is_some() || spec.version.as_ref().is_some_and(|v| !v.value.is_empty())
}

/// The error kustomize (and Flux, which enables neither Helm nor plugins) stops with on a
/// field that needs Helm or an external plugin; `None` for fields that are only skipped.
fn refused(field: &str, loc: Loc) -> Option<Diag> {
    let (msg, flag) = match field {
        "helmCharts" | "helmChartInflationGenerator" => (
            format!("'{field}': trouble configuring builtin HelmChartInflationGenerator: must specify --enable-helm"),
            super::diag::BuildFlag::Helm,
        ),
        "validators" => (
            "'validators': external plugins disabled; fluxgate, like kustomize without plugins, cannot run validators"
                .into(),
            super::diag::BuildFlag::Plugins,
        ),
        _ => return None,
    };
    Some(
        Diag::fatal(Rule::KustomizationInvalid, loc, msg)
            .help(
                "kustomize builds charts only with --enable-helm, which Flux never sets; fluxgate never runs helm or plugins",
            )
            .needs(flag),
    )
}

/// Why a kustomization field was not rendered (each is reported, never silent).
fn skip_reason(field: &str) -> String {
    match field {
        "helmCharts" | "helmGlobals" | "helmChartInflationGenerator" => format!(
            "'{field}' skipped, never executed: inflating Helm charts needs the helm binary and chart downloads; the chart's objects are missing from this render"
        ),
        "validators" => "'validators' skipped, never executed: fluxgate does not run validator plugins".into(),
        _ if field.starts_with("buildMetadata option") => {
            format!(
                "{field} is unknown and ignored, as kustomize does (use originAnnotations, transformerAnnotations or managedByLabel)"
            )
        }
        _ => format!("'{field}' is not rendered by fluxgate yet; its effect is not checked"),
    }
}

/// Where a plugin configuration was written.
struct PluginFrom {
    file: RelPath,
    name: Option<String>,
    namespace: Option<String>,
    loc: Loc,
}

impl PluginFrom {
    fn configured(&self, kind: &'static str) -> Configured {
        Configured { file: self.file.clone(), kind, name: self.name.clone(), namespace: self.namespace.clone() }
    }
}

/// The steps kustomize does once, at the top: hash suffixes, name references, vars, build
/// metadata, output order.
fn finish(mut acc: Acc, top: Option<&Kustomization>) -> Result<Rendered, Failed> {
    for r in acc.resources.iter_mut().filter(|r| r.needs_hash) {
        let suffix = generator::hash_suffix(&r.node);
        let name = format!("{}-{suffix}", r.name());
        r.set_name(name);
        r.needs_hash = false;
    }
    if let Err((message, loc)) = transform::namereference::apply(&mut acc.resources, &acc.config.name_reference) {
        return Err(Failed {
            error: Diag::fatal(Rule::KustomizationInvalid, loc, message),
            notes: acc.notes,
            files: acc.files,
        });
    }
    if let Err(e) = transform::vars::resolve(&mut acc.resources, &acc.vars, &acc.config.var_reference) {
        return Err(Failed {
            error: Diag::fatal(Rule::KustomizationInvalid, e.loc, e.message),
            notes: acc.notes,
            files: acc.files,
        });
    }
    if let Some(k) = top {
        transform::build_metadata::apply(&mut acc.resources, &k.dir, k.build_metadata);
    }
    acc.resources.iter_mut().for_each(Resource::normalize_annotations);
    transform::sort::apply(&mut acc.resources, top.and_then(|k| k.sort_order.as_ref()));
    Ok(Rendered { resources: acc.resources.into_inner(), notes: acc.notes, files: acc.files })
}

/// The ServiceAccount an `IAMPolicyGenerator` (GKE) makes: annotated with the Google service
/// account it impersonates.
fn iam_service_account(iam: &plugin::IamPolicy, loc: Loc) -> Node {
    let s = |v: &str| Node::string(v, loc);
    let mut ann = crate::source::Mapping::default();
    ann.insert(
        "iam.gke.io/gcp-service-account".into(),
        s(&format!("{}@{}.iam.gserviceaccount.com", iam.service_account, iam.project)),
    );
    let mut meta = crate::source::Mapping::default();
    meta.insert("annotations".into(), Node::new(Value::Map(Box::new(ann)), loc));
    meta.insert("name".into(), s(&iam.name));
    if let Some(ns) = &iam.namespace {
        meta.insert("namespace".into(), s(ns));
    }
    let mut top = crate::source::Mapping::default();
    top.insert("apiVersion".into(), s("v1"));
    top.insert("kind".into(), s("ServiceAccount"));
    top.insert("metadata".into(), Node::new(Value::Map(Box::new(meta)), loc));
    Node::new(Value::Map(Box::new(top)), loc)
}

/// A patch with no document, as kustomize v5.5 treats it (checked with kubectl): refused as a
/// `patchesStrategicMerge` entry; as a `patches` file without a target it reads as a JSON
/// patch missing its target; with a target, an empty file is a no-op, while comments or a bare
/// `---` (or any empty inline patch) "qualify as both" a strategic merge and a JSON patch.
fn empty_patch(p: &PatchSpec, file_text: Option<&str>) -> Result<(), Diag> {
    let message = match (p.kind, file_text) {
        (PatchKind::LegacyStrategicMerge, _) => "patch appears to be empty".to_string(),
        (PatchKind::Auto, Some(_)) if p.target.is_none() => {
            "must specify a target for JSON patch (the patch file holds no patch)".to_string()
        }
        (PatchKind::Auto, Some(t)) if t.trim().is_empty() => return Ok(()),
        (PatchKind::Auto, _) => "an empty patch illegally qualifies as both an SM and JSON patch".into(),
        _ => return Ok(()),
    };
    Err(Diag::fatal(Rule::PatchFailed, p.loc, message).help("remove the entry or give the patch content"))
}

fn not_found(p: &PatchSpec, what: &str) -> Diag {
    let t = p.target.clone().unwrap_or_default();
    let desc: Vec<String> = [
        ("group", &t.group),
        ("version", &t.version),
        ("kind", &t.kind),
        ("name", &t.name),
        ("namespace", &t.namespace),
        ("labelSelector", &t.label_selector),
        ("annotationSelector", &t.annotation_selector),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    Diag::note(
        Rule::PatchTargetUnmatched,
        p.loc,
        format!("{what} ({}) matches no resource; the patch does nothing", desc.join(", ")),
    )
    .help("kustomize ignores this silently; fix the target or remove the patch")
}

/// After a patch: kustomize lets a JSON 6902 patch rename, move or re-kind an object freely
/// (the old id `was` is remembered, so references and later patches naming it follow); a
/// strategic merge patch's name and kind changes are silently undone unless `allowNameChange` /
/// `allowKindChange` is set, and its namespace change always is.
fn check_rename(r: &mut Resource, before: &ResId, was: PrevId, p: &PatchSpec, json: bool) -> Result<(), Diag> {
    let after = r.id();
    if !json {
        if after.namespace != before.namespace {
            let ns = before.namespace.clone();
            if let Some(m) = r.node.get_mut("metadata").and_then(Node::as_map_mut) {
                if ns.is_empty() {
                    m.shift_remove("namespace");
                } else {
                    m.insert("namespace".into(), Node::string(ns, Loc::NONE));
                }
            }
        }
        if after.gvk.kind != before.gvk.kind
            && !p.allow_kind_change
            && let Some(m) = r.node.as_map_mut()
        {
            m.insert("kind".into(), Node::string(before.gvk.kind.clone(), Loc::NONE));
        }
        if after.name != before.name
            && !p.allow_name_change
            && let Some(m) = r.node.get_mut("metadata").and_then(Node::as_map_mut)
        {
            m.insert("name".into(), Node::string(before.name.clone(), Loc::NONE));
        }
    }
    let mut now = r.prev_id();
    if !json {
        // The caller puts a strategic merge patch's namespace back.
        now.namespace.clone_from(&was.namespace);
    }
    if now != was {
        r.remember(was);
    }
    Ok(())
}

/// kustomize re-reads annotations as strings after a JSON 6902 patch (to restore its
/// internal ones), so a patched-in `true` or `8080` comes out as a string.
fn stringify_annotations(node: &mut Node) {
    let Some(m) = node.get_mut("metadata").and_then(|m| m.get_mut("annotations")).and_then(Node::as_map_mut) else {
        return;
    };
    for v in m.values_mut() {
        let text = match &v.value {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            _ => continue,
        };
        v.value = Value::Str(text);
    }
}

fn shift(n: &mut Node, dl: u32, dc: u32) {
    if !n.loc.is_none() {
        n.loc.line += dl;
        n.loc.col += dc;
    }
    match &mut n.value {
        Value::Seq(s) => s.iter_mut().for_each(|c| shift(c, dl, dc)),
        Value::Map(m) => m.values_mut().for_each(|c| shift(c, dl, dc)),
        _ => {}
    }
}

/// Checks a document is an object kustomize accepts: a map with `kind` and `metadata.name`.
/// kustomize builds an object with no (or a non-string) `apiVersion`; the check stage reports it.
fn check_object(doc: &Node) -> Result<Node, Diag> {
    if doc.as_map().is_none() {
        return Err(Diag::fatal(
            Rule::ObjectInvalid,
            doc.loc,
            format!("a resource must be a map, not a {}", doc.type_name()),
        ));
    }
    if doc.str_at(&["kind"]).is_none_or(str::is_empty) {
        return Err(Diag::fatal(Rule::ObjectInvalid, doc.loc, "this document has no 'kind'")
            .help("every Kubernetes object needs apiVersion, kind and metadata.name"));
    }
    if doc.str_at(&["metadata", "name"]).is_none_or(str::is_empty) {
        // kustomize identifies every object by name, so `generateName` alone fails the build
        // (and so Flux's apply) although the API server would accept it.
        let help = if doc.path(&["metadata", "generateName"]).is_some() {
            "kustomize (and so Flux) cannot build an object that only has 'metadata.generateName'; give it a name"
        } else {
            "every Kubernetes object needs apiVersion, kind and metadata.name"
        };
        return Err(Diag::fatal(
            Rule::ObjectInvalid,
            doc.get("metadata").map_or(doc.loc, |m| m.loc),
            "this object has no 'metadata.name'",
        )
        .help(help));
    }
    Ok(doc.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Limits};

    #[test]
    fn json_patch_values_read_as_yaml11_and_annotations_stringified() {
        let ops = yaml::parse("- {op: add, path: /metadata/annotations, value: {a: yes, b: 8080}}\n- {op: add, path: /spec/m, value: 0644}\n", FileId(1), Dialect::Yaml11, &Limits::default()).docs.remove(0);
        let mut obj =
            yaml::parse("kind: Thing\nmetadata: {name: t}\nspec: {}\n", FileId(0), Dialect::Yaml12, &Limits::default())
                .docs
                .remove(0);
        json6902::apply_json6902(&mut obj, &ops, ops.loc).unwrap_or_else(|e| panic!("{}", e.message));
        stringify_annotations(&mut obj);
        assert_eq!(obj.str_at(&["metadata", "annotations", "a"]), Some("true"));
        assert_eq!(obj.str_at(&["metadata", "annotations", "b"]), Some("8080"));
        assert_eq!(obj.path(&["spec", "m"]).and_then(Node::as_i64), Some(420));
    }

    /// Renders a repository of `(path, text)` files from its root.
    fn render_files(files: &[(&str, &str)]) -> Result<Rendered, Failed> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (path, text) in files {
            let p = dir.path().join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
        }
        let repo = Repo::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        Engine::new(&repo, LoadRestrictor::RootOnly).render(&RelPath::root())
    }

    const FOO: &str = "apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: f}\nspec:\n  items: [{name: a, v: 1}]\n";
    const SCHEMA: &str = "definitions:\n  foo:\n    x-kubernetes-group-version-kind: [{group: example.com, version: v1, kind: Foo}]\n    properties:\n      spec:\n        properties:\n          items: {type: array, x-kubernetes-patch-strategy: merge, x-kubernetes-patch-merge-key: name}\n";
    const PATCH: &str = "patches:\n- patch: '{apiVersion: example.com/v1, kind: Foo, metadata: {name: f}, spec: {items: [{name: b}]}}'\n";

    fn items(r: &Rendered) -> usize {
        r.resources.first().and_then(|r| r.node.path(&["spec", "items"])).and_then(Node::as_seq).map_or(0, Vec::len)
    }

    #[test]
    fn custom_openapi_merges_the_kinds_it_defines_in_bases_too() {
        let top = format!("openapi: {{path: schema.yaml}}\nresources: [base]\n{PATCH}");
        let r = render_files(&[
            ("kustomization.yaml", &top),
            ("schema.yaml", SCHEMA),
            ("base/kustomization.yaml", "resources: [foo.yaml]\n"),
            ("base/foo.yaml", FOO),
        ])
        .unwrap_or_else(|f| panic!("{}", f.error.message));
        assert_eq!(items(&r), 2);
        assert!(r.files.iter().any(|f| f.to_string() == "schema.yaml"));
        assert!(r.notes.iter().all(|n| n.rule != Rule::RenderSkipped));
    }

    #[test]
    fn openapi_of_a_base_is_reported_not_applied() {
        let r = render_files(&[
            ("kustomization.yaml", &format!("resources: [base]\n{PATCH}")),
            ("base/kustomization.yaml", "openapi: {path: schema.yaml}\nresources: [foo.yaml]\n"),
            ("base/schema.yaml", SCHEMA),
            ("base/foo.yaml", FOO),
        ])
        .unwrap_or_else(|f| panic!("{}", f.error.message));
        assert_eq!(items(&r), 1);
        assert!(r.notes.iter().any(|n| n.rule == Rule::RenderSkipped && n.message.contains("openapi")));
    }

    #[test]
    fn openapi_field_errors_match_kustomize() {
        let both = "openapi: {path: schema.yaml, version: v1.21.2}\nresources: [foo.yaml]\n";
        let unknown = "openapi: {version: v1.30.0}\nresources: [foo.yaml]\n";
        let bad = "openapi: {path: schema.yaml}\nresources: [foo.yaml]\n";
        for (k, schema, want) in [
            (both, SCHEMA, "cannot use both"),
            (unknown, SCHEMA, "not built in"),
            (bad, "definitions: 5\n", "invalid schema file"),
            (bad, "", "invalid schema file"),
            (bad, "{}", ""),
        ] {
            let r = render_files(&[("kustomization.yaml", k), ("schema.yaml", schema), ("foo.yaml", FOO)]);
            match r {
                Err(f) => assert!(!want.is_empty() && f.error.message.contains(want), "{}", f.error.message),
                Ok(_) => assert!(want.is_empty(), "expected an error with '{want}'"),
            }
        }
        let builtin = "openapi: {version: v1.21.2}\nresources: [foo.yaml]\n";
        assert!(render_files(&[("kustomization.yaml", builtin), ("foo.yaml", FOO)]).is_ok());
    }
}

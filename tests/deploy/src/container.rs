//! What each container of the lab's own image runs, exactly as compose or Kubernetes gives it:
//! the arguments after the image's entrypoint, the environment (the image's, then the
//! container's, with Kubernetes' `envFrom`, Secret and ConfigMap references and `$(VAR)`
//! expansion resolved), the user, the working directory, whether the root filesystem is
//! read-only, and which paths are writable mounts.
//!
//! The stack test (`tests/stack`) starts the real `dojo` binary from these descriptions, so a
//! container that cannot start as configured — no writable data directory under a read-only
//! root, a missing URL or token — fails there, and [`Container::data_dir_problem`] says why
//! without starting anything.

use std::collections::BTreeMap;

use docker_compose_types::{Compose, Tmpfs, Volumes};
use k8s_openapi::api::core::v1::{Container as KubeContainer, PodSpec};

use crate::dockerfile::{self, Instruction};
use crate::kube::{Manifest, Object};
use crate::{DeployError, compose};

/// The image name compose and Kubernetes run our roles from (the tag may differ).
pub const IMAGE: &str = "tracing-dojo";

/// The parts of the Dockerfile's runtime stage that decide how a container starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    /// `ENTRYPOINT` as an exec-form array.
    pub entrypoint: Vec<String>,
    /// `ENV`, in order.
    pub env: Vec<(String, String)>,
    /// The last `WORKDIR`.
    pub workdir: String,
    /// `USER uid:gid`, numeric.
    pub uid: u32,
    pub gid: u32,
    /// `COPY source destination` from the build context (not `--from=`), as written.
    pub copies: Vec<(String, String)>,
    /// Folders the image user owns (homes made by `useradd --create-home`): writable unless the
    /// root filesystem is read-only.
    pub user_dirs: Vec<String>,
}

/// Reads the runtime stage (after the last `FROM`) of a Dockerfile.
pub fn image(text: &str) -> Result<Image, DeployError> {
    let instructions = dockerfile::parse(text);
    let last_from = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .unwrap_or(0);
    let runtime: &[Instruction] = &instructions[last_from..];
    let wrong = |what: &str, arguments: &str| DeployError::Dockerfile {
        message: format!("{what}: {arguments:?}"),
    };
    let mut image = Image {
        workdir: "/".to_owned(),
        ..Image::default()
    };
    for instruction in runtime {
        let arguments = instruction.arguments.as_str();
        match instruction.keyword.as_str() {
            "ENV" => {
                let (key, value) = arguments
                    .split_once('=')
                    .ok_or_else(|| wrong("ENV is not KEY=value", arguments))?;
                image
                    .env
                    .push((key.trim().to_owned(), value.trim().to_owned()));
            }
            "WORKDIR" => image.workdir = arguments.to_owned(),
            "USER" => {
                let (uid, gid) = arguments.split_once(':').unwrap_or((arguments, arguments));
                image.uid = uid
                    .parse()
                    .map_err(|_| wrong("USER is not numeric", arguments))?;
                image.gid = gid
                    .parse()
                    .map_err(|_| wrong("USER is not numeric", arguments))?;
            }
            "ENTRYPOINT" => {
                image.entrypoint = serde_json::from_str(arguments)
                    .map_err(|_| wrong("ENTRYPOINT is not an exec-form array", arguments))?;
            }
            "COPY" if !arguments.starts_with("--") => {
                let parts: Vec<&str> = arguments.split_whitespace().collect();
                if let Some((destination, sources)) = parts.split_last() {
                    for source in sources {
                        image
                            .copies
                            .push(((*source).to_owned(), (*destination).to_owned()));
                    }
                }
            }
            "RUN" if arguments.contains("useradd") && arguments.contains("--create-home") => {
                let words: Vec<&str> = arguments.split_whitespace().collect();
                if let Some(home) = words
                    .windows(2)
                    .find(|pair| pair[0] == "--home-dir")
                    .map(|pair| pair[1])
                {
                    image.user_dirs.push(home.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(image)
}

/// One container of our image, as its orchestrator starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// For messages: `compose dojo`, `k8s/base Deployment tracing-dojo/dojo`.
    pub origin: String,
    /// The service or workload name (`dojo`, `api`, …), which is also its host name.
    pub name: String,
    /// The full command line: entrypoint (or Kubernetes `command`) and arguments.
    pub argv: Vec<String>,
    /// The final environment, the image's first.
    pub env: BTreeMap<String, String>,
    pub uid: u32,
    pub gid: u32,
    pub workdir: String,
    pub read_only_root: bool,
    /// Paths the process may write: writable mounts, and the image user's own folders unless
    /// the root filesystem is read-only.
    pub writable: Vec<String>,
}

impl Container {
    /// The value of an environment variable.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    /// Why `dojo up`/`dojo serve` could not create its data directory here, if it could not:
    /// the directory (`--data-dir`, else `DOJO_DATA_DIR`, else `.dojo` in the working
    /// directory) must lie under a writable path.
    pub fn data_dir_problem(&self) -> Option<String> {
        let role = self.argv.get(1).map(String::as_str);
        if !matches!(role, Some("serve" | "up")) {
            return None;
        }
        let flag = compose::flag_value(&self.argv, "--data-dir").map(str::to_owned);
        let data_dir = flag
            .or_else(|| self.env(dojo_defaults::env::DATA_DIR).map(str::to_owned))
            .unwrap_or_else(|| ".dojo".to_owned());
        let absolute = if data_dir.starts_with('/') {
            data_dir
        } else {
            format!("{}/{data_dir}", self.workdir.trim_end_matches('/'))
        };
        let writable = self.writable.iter().any(|path| {
            absolute == *path || absolute.starts_with(&format!("{}/", path.trim_end_matches('/')))
        });
        (!writable).then(|| {
            format!(
                "{}: the data directory {absolute} is not under a writable path ({}); give it \
                 a volume or emptyDir",
                self.origin,
                if self.writable.is_empty() {
                    "there is none".to_owned()
                } else {
                    self.writable.join(", ")
                }
            )
        })
    }
}

fn is_ours(image: Option<&str>) -> bool {
    image.is_some_and(|i| i.split(':').next() == Some(IMAGE))
}

/// The containers of our image in a compose file, in file order.
pub fn from_compose(file: &Compose, image: &Image) -> Vec<Container> {
    let mut containers = Vec::new();
    for (name, service) in compose::services(file) {
        if !is_ours(service.image.as_deref()) {
            continue;
        }
        let mut argv = compose::entrypoint(service).unwrap_or_else(|| image.entrypoint.clone());
        argv.extend(compose::command(service));
        let mut env: BTreeMap<String, String> = image.env.iter().cloned().collect();
        env.extend(compose::environment(service));
        let (uid, gid) = match service
            .user
            .as_deref()
            .map(|u| u.split_once(':').unwrap_or((u, u)))
        {
            Some((uid, gid)) => (
                uid.parse().unwrap_or(image.uid),
                gid.parse().unwrap_or(image.gid),
            ),
            None => (image.uid, image.gid),
        };
        let mut writable: Vec<String> = service
            .volumes
            .iter()
            .filter_map(|volume| match volume {
                Volumes::Simple(spec) => {
                    let parts: Vec<&str> = spec.split(':').collect();
                    let read_only = parts.get(2).is_some_and(|mode| mode.contains("ro"));
                    (!read_only).then(|| parts.get(1).map(|p| (*p).to_owned()))?
                }
                Volumes::Advanced(volume) => (!volume.read_only).then(|| volume.target.clone()),
            })
            .collect();
        match &service.tmpfs {
            Some(Tmpfs::Simple(path)) => writable.push(path.clone()),
            Some(Tmpfs::List(paths)) => writable.extend(paths.iter().cloned()),
            None => {}
        }
        if !service.read_only {
            writable.extend(image.user_dirs.iter().cloned());
        }
        containers.push(Container {
            origin: format!("compose {name}"),
            name: name.to_owned(),
            argv,
            env,
            uid,
            gid,
            workdir: service
                .working_dir
                .clone()
                .unwrap_or_else(|| image.workdir.clone()),
            read_only_root: service.read_only,
            writable,
        });
    }
    containers
}

/// Fake values for the Downward API fields a pod may read (`fieldRef`).
fn field_value(path: &str, manifest: &Manifest) -> String {
    match path {
        "metadata.name" => format!("{}-0", manifest.name),
        "metadata.namespace" => manifest.namespace.clone().unwrap_or_default(),
        "metadata.uid" => "00000000-0000-0000-0000-000000000000".to_owned(),
        "status.podIP" | "status.hostIP" => "127.0.0.1".to_owned(),
        "spec.nodeName" => "node-0".to_owned(),
        _ => String::new(),
    }
}

/// Expands `$(VAR)` from the variables defined so far, as the kubelet does: an unknown
/// reference stays as written, `$$(` is a literal `$(`.
pub fn expand_kube(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$$") {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix("$(")
            && let Some(end) = inner.find(')')
        {
            match env.get(&inner[..end]) {
                Some(value) => out.push_str(value),
                None => out.push_str(&after[..end + 3]),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The data of a Secret or ConfigMap in the same namespace, decoded.
fn object_data(
    manifests: &[Manifest],
    namespace: &Option<String>,
    name: &str,
) -> Option<BTreeMap<String, String>> {
    let manifest = manifests.iter().find(|m| {
        &m.namespace == namespace
            && m.name == name
            && matches!(m.kind.as_str(), "Secret" | "ConfigMap")
    })?;
    Some(match &manifest.object {
        Object::Secret(secret) => secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .chain(
                secret
                    .string_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone())),
            )
            .collect(),
        Object::ConfigMap(map) => map.data.clone().unwrap_or_default().into_iter().collect(),
        _ => BTreeMap::new(),
    })
}

/// The containers of our image in rendered Kubernetes manifests (one per workload container).
pub fn from_kube(
    manifests: &[Manifest],
    image: &Image,
    source: &str,
) -> Result<Vec<Container>, String> {
    let mut containers = Vec::new();
    for manifest in manifests {
        let Some(spec) = manifest.pod_spec() else {
            continue;
        };
        for container in &spec.containers {
            if !is_ours(container.image.as_deref()) {
                continue;
            }
            containers.push(kube_container(
                manifests, manifest, spec, container, image, source,
            )?);
        }
    }
    Ok(containers)
}

fn kube_container(
    manifests: &[Manifest],
    manifest: &Manifest,
    spec: &PodSpec,
    container: &KubeContainer,
    image: &Image,
    source: &str,
) -> Result<Container, String> {
    let origin = format!(
        "{source} {} {}/{}",
        manifest.kind,
        manifest.namespace.as_deref().unwrap_or("-"),
        manifest.name
    );
    let mut env: BTreeMap<String, String> = image.env.iter().cloned().collect();
    for from in container.env_from.iter().flatten() {
        let (name, optional) = if let Some(r) = &from.config_map_ref {
            (&r.name, r.optional)
        } else if let Some(r) = &from.secret_ref {
            (&r.name, r.optional)
        } else {
            continue;
        };
        match object_data(manifests, &manifest.namespace, name) {
            Some(data) => {
                let prefix = from.prefix.clone().unwrap_or_default();
                env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)));
            }
            None if optional == Some(true) => {}
            None => return Err(format!("{origin}: envFrom {name} is not rendered")),
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(value) = &var.value {
            expand_kube(value, &env)
        } else if let Some(from) = &var.value_from {
            let key_ref = from
                .secret_key_ref
                .as_ref()
                .map(|r| (&r.name, &r.key))
                .or_else(|| from.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key)));
            if let Some((name, key)) = key_ref {
                object_data(manifests, &manifest.namespace, name)
                    .and_then(|data| data.get(key).cloned())
                    .ok_or_else(|| {
                        format!(
                            "{origin}: {} reads {name}/{key}, which is not rendered",
                            var.name
                        )
                    })?
            } else if let Some(field) = &from.field_ref {
                field_value(&field.field_path, manifest)
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.insert(var.name.clone(), value);
    }
    let mut argv = match &container.command {
        Some(command) => command.iter().map(|a| expand_kube(a, &env)).collect(),
        None => image.entrypoint.clone(),
    };
    argv.extend(
        container
            .args
            .iter()
            .flatten()
            .map(|a| expand_kube(a, &env)),
    );
    let pod_security = spec.security_context.as_ref();
    let security = container.security_context.as_ref();
    let uid = security
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_security.and_then(|s| s.run_as_user))
        .map_or(image.uid, |u| u32::try_from(u).unwrap_or(image.uid));
    let gid = security
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_security.and_then(|s| s.run_as_group))
        .map_or(image.gid, |g| u32::try_from(g).unwrap_or(image.gid));
    let read_only_root = security.and_then(|s| s.read_only_root_filesystem) == Some(true);
    let writable_volumes: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.empty_dir.is_some() || v.persistent_volume_claim.is_some())
        .map(|v| v.name.as_str())
        .collect();
    let mut writable: Vec<String> = container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| m.read_only != Some(true) && writable_volumes.contains(&m.name.as_str()))
        .map(|m| m.mount_path.clone())
        .collect();
    if !read_only_root {
        writable.extend(image.user_dirs.iter().cloned());
    }
    Ok(Container {
        origin,
        name: manifest.name.clone(),
        argv,
        env,
        uid,
        gid,
        workdir: container
            .working_dir
            .clone()
            .unwrap_or_else(|| image.workdir.clone()),
        read_only_root,
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_expansion_uses_earlier_variables_and_keeps_unknown_ones() {
        let env = BTreeMap::from([("PW".to_owned(), "s3cret".to_owned())]);
        assert_eq!(
            expand_kube("postgres://dojo:$(PW)@postgres/$(NOPE) $$(PW)", &env),
            "postgres://dojo:s3cret@postgres/$(NOPE) $(PW)"
        );
    }

    #[test]
    fn the_runtime_stage_of_a_dockerfile_is_read() {
        let text = "FROM rust AS b\nENV X=1\nFROM debian\nRUN useradd --uid 7 --home-dir /home/u --create-home u\nENV DOJO_DATA_DIR=/home/u\nCOPY labs /app/labs\nWORKDIR /app\nUSER 7:8\nENTRYPOINT [\"/bin/dojo\"]\n";
        let image = image(text).expect("a valid runtime stage");
        assert_eq!(
            image.env,
            [("DOJO_DATA_DIR".to_owned(), "/home/u".to_owned())]
        );
        assert_eq!((image.uid, image.gid), (7, 8));
        assert_eq!(image.workdir, "/app");
        assert_eq!(image.entrypoint, ["/bin/dojo"]);
        assert_eq!(image.user_dirs, ["/home/u"]);
        assert_eq!(image.copies, [("labs".to_owned(), "/app/labs".to_owned())]);
    }
}

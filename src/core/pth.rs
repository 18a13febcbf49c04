//! Reading `pytorch_model.bin` (a `torch.save` zip archive of a state dict) safely.
//!
//! A pickle can name any Python callable, and Python's `torch.load` without `weights_only` runs
//! them. Here nothing runs: candle's pickle reader only builds a tree of objects, and before any
//! tensor is read that tree is checked to be a plain tensor archive — a dict whose every value is a
//! tensor, naming no class outside `torch`'s tensor-rebuilding functions, its storage types and
//! `collections.OrderedDict` (what PyTorch's own `weights_only=True` loader allows). Anything else
//! is refused with the class it names.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::Path;

use candle_core::pickle::{Object, PthTensors, Stack};
use candle_core::{DType, Device, Tensor};

use super::error::{Error, Result};

/// Whether a pickle may name `module.class` in a plain tensor archive.
fn allowed(module: &str, class: &str) -> bool {
    match module {
        "collections" => class == "OrderedDict",
        "torch._utils" => matches!(
            class,
            "_rebuild_tensor_v2" | "_rebuild_parameter" | "_rebuild_parameter_with_state"
        ),
        "torch._tensor" => class == "_rebuild_from_type_v2",
        "torch.nn.parameter" => class == "Parameter",
        "torch" => class.ends_with("Storage") || class == "Tensor",
        "torch.storage" => class == "UntypedStorage",
        _ => false,
    }
}

/// The first class of `obj`'s tree that a tensor archive may not name.
fn forbidden_class(obj: &Object) -> Option<String> {
    match obj {
        Object::Class {
            module_name,
            class_name,
        } => (!allowed(module_name, class_name)).then(|| format!("{module_name}.{class_name}")),
        Object::Tuple(v) | Object::List(v) => v.iter().find_map(forbidden_class),
        Object::Dict(kv) => kv
            .iter()
            .find_map(|(k, v)| forbidden_class(k).or_else(|| forbidden_class(v))),
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            forbidden_class(callable).or_else(|| forbidden_class(args))
        }
        Object::PersistentLoad(o) => forbidden_class(o),
        _ => None,
    }
}

/// Loads every floating-point tensor of a `pytorch_model.bin` as F32 on `device` (integer buffers
/// such as `embeddings.position_ids` are skipped). Refuses archives that hold anything but tensors.
pub fn load_pth(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let bad = |reason: String| Error::invalid_model(path, reason);
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        bad(format!(
            "not a PyTorch zip archive ({e}); only torch.save files of a state dict are read"
        ))
    })?;
    let pickles: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n.ends_with("data.pkl"))
        .collect();
    let [pickle] = pickles.as_slice() else {
        return Err(bad(format!(
            "expected one data.pkl in the archive, found {}",
            pickles.len()
        )));
    };
    let entries = {
        let reader = zip
            .by_name(pickle)
            .map_err(|e| bad(format!("cannot read {pickle}: {e}")))?;
        let mut stack = Stack::empty();
        stack
            .read_loop(&mut BufReader::new(reader))
            .map_err(|e| bad(format!("cannot parse {pickle}: {e}")))?;
        let obj = stack
            .finalize()
            .map_err(|e| bad(format!("cannot parse {pickle}: {e}")))?;
        if let Some(class) = forbidden_class(&obj) {
            return Err(bad(format!(
                "refusing a pickle that names {class}: only plain tensor archives (a state dict) are loaded"
            )));
        }
        match obj {
            Object::Dict(kv) => kv.len(),
            _ => {
                return Err(bad(
                    "the pickle is not a state dict (a dict of tensors)".into()
                ))
            }
        }
    };
    let pth = PthTensors::new(path, None).map_err(|e| bad(e.to_string()))?;
    if pth.tensor_infos().len() != entries {
        return Err(bad(format!(
            "{} of the state dict's {entries} entries are tensors: only plain tensor archives are loaded",
            pth.tensor_infos().len()
        )));
    }
    let mut out = HashMap::with_capacity(entries);
    for (name, info) in pth.tensor_infos() {
        if !matches!(
            info.dtype,
            DType::F32 | DType::F16 | DType::BF16 | DType::F64
        ) {
            continue;
        }
        let t = pth
            .get(name)
            .map_err(|e| bad(format!("tensor '{name}': {e}")))?
            .ok_or_else(|| bad(format!("tensor '{name}' is listed but missing")))?;
        out.insert(
            name.clone(),
            t.to_dtype(DType::F32)?.contiguous()?.to_device(device)?,
        );
    }
    Ok(out)
}

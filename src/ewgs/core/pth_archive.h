// Internal: unpickling a torch.save archive from its records, the step of load_pth
// after the zip layer (the .pth fuzzer feeds records directly).
#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <utility>
#include <vector>

#include "zip_records.h"

namespace ewgs::detail {

/// The object pickled in `records` ("<dir>/data.pkl" plus its storages
/// "<dir>/data/<key>"), as load_pth describes it; storages are taken.
c10::IValue load_pth_archive(ZipRecords& records);

/// The state dict inside `root`, chosen as load_pth_state_dict describes;
/// `path` names the file in errors.
std::vector<std::pair<std::string, at::Tensor>> state_dict_of(
    const c10::IValue& root, const std::string& path, const std::string& entry);

}  // namespace ewgs::detail

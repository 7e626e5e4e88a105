#include "train/train_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "common/crash_point.h"
#include "common/files.h"
#include "common/sha256.h"

namespace electra {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kStateFormat = 1;

// state-<step>-<first 12 hex of sha256>.pt: a state saved twice at one step (a resumed run's) gets its own name, so
// that renaming it never replaces the file the current latest.json vouches for.
std::string state_file_name(int64_t step, const std::string& sha256) {
  return fmt::format("state-{:08d}-{}.pt", step, sha256.substr(0, 12));
}

// Removes the state files and leftover temporary files of `state_dir` other than `keep` (best effort: a file left
// behind costs space, not correctness).
void remove_replaced(const fs::path& state_dir, const std::string& keep) {
  bool removed = false;
  for (const auto& entry : list_directory(state_dir)) {
    const std::string name = entry.filename().string();
    const bool old_state = name.rfind("state-", 0) == 0 && name != keep;
    const bool leftover = name.find(".tmp.") != std::string::npos;
    if (old_state || leftover) {
      std::error_code ec;
      removed = fs::remove(entry, ec) || removed;
    }
  }
  if (removed) sync_directory(state_dir);
}

// The latest state of `state_dir`, verified against its record.
struct StateBytes {
  fs::path file;
  std::string bytes;
};

StateBytes read_state_bytes(const fs::path& state_dir) {
  const fs::path manifest_file = state_manifest(state_dir);
  if (!fs::exists(manifest_file)) {
    const fs::path legacy = state_dir / "training_state.pt";
    if (fs::exists(legacy)) {
      throw std::runtime_error(fmt::format("cannot resume: {} was written by an earlier electra without latest.json, "
                                           "so it cannot be verified as complete; start the run again",
                                           legacy.string()));
    }
    throw std::runtime_error(fmt::format("cannot resume: {} does not exist (no training state saved yet)",
                                         manifest_file.string()));
  }
  const json manifest = json::parse(read_file(manifest_file), nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("file") || !manifest["file"].is_string() ||
      !manifest.contains("bytes") || !manifest["bytes"].is_number_unsigned() || !manifest.contains("sha256") ||
      !manifest["sha256"].is_string()) {
    throw std::runtime_error(fmt::format("{}: not a training-state record (want file, bytes, sha256)",
                                         manifest_file.string()));
  }
  const std::string name = manifest["file"].get<std::string>();
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
    throw std::runtime_error(fmt::format("{}: file '{}' is not a name in {}", manifest_file.string(), name,
                                         state_dir.string()));
  }
  const fs::path file = state_dir / name;
  if (!fs::exists(file)) {
    throw std::runtime_error(fmt::format("cannot resume: {} names {}, which does not exist", manifest_file.string(),
                                         file.string()));
  }
  const auto expected_bytes = manifest["bytes"].get<uint64_t>();
  const auto actual_bytes = static_cast<uint64_t>(fs::file_size(file));
  if (actual_bytes != expected_bytes) {
    throw std::runtime_error(fmt::format("cannot resume: {} holds {} bytes, {} records {}: the state is incomplete "
                                         "and is not loaded",
                                         file.string(), actual_bytes, manifest_file.string(), expected_bytes));
  }
  std::string bytes = read_file(file);
  const std::string sha = sha256_hex(bytes);
  if (sha != manifest["sha256"].get<std::string>()) {
    throw std::runtime_error(fmt::format("cannot resume: {} has sha256 {}, {} records {}: the state is damaged and is "
                                         "not loaded",
                                         file.string(), sha, manifest_file.string(),
                                         manifest["sha256"].get<std::string>()));
  }
  return {file, std::move(bytes)};
}

}  // namespace

fs::path state_manifest(const fs::path& state_dir) { return state_dir / "latest.json"; }

uint64_t training_state_bytes(const NamedTensors& parameters) {
  uint64_t n = 0;
  for (const auto& [name, p] : parameters) n += static_cast<uint64_t>(p.numel());
  return 3 * 4 * n;
}

void save_training_state(const fs::path& state_dir, const ElectraModel& model, const AdamW& optimizer,
                         const TrainState& s, const c10::Device& device) {
  NamedTensors extra{{"rng.cpu", at::detail::getDefaultCPUGenerator().get_state()}};
  if (device.is_cuda()) extra.emplace_back("rng.cuda", at::globalContext().defaultGenerator(device).get_state());
  const SelectionState& sel = s.selection;
  const json meta = {{"step", s.step},
                     {"epoch", s.epoch},
                     {"batch_in_epoch", s.batch_in_epoch},
                     {"best_score", std::isfinite(sel.best_score) ? json(sel.best_score) : json(nullptr)},
                     {"best_step", sel.best_step},
                     {"bad_evals", sel.bad_evals},
                     {"last_eval_step", sel.last_eval_step},
                     {"examples_seen", s.examples_seen},
                     {"train_seconds", s.train_seconds},
                     {"stopped_early", sel.stopped_early},
                     {"window_loss", s.window_loss},
                     {"window_steps", s.window_steps}};
  commit_state(state_dir, s.step, model.named_parameters(), optimizer, meta, extra);
}

void commit_state(const fs::path& state_dir, int64_t step, const NamedTensors& parameters, const AdamW& optimizer,
                  const json& meta, const NamedTensors& extra) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, p] : parameters) archive.write("model." + name, p.detach().cpu());
  for (const auto& [name, t] : optimizer.state()) archive.write("optim." + name, t.cpu());
  for (const auto& [name, t] : extra) archive.write(name, t);
  json with_steps = meta;
  with_steps["optimizer_steps"] = optimizer.steps();
  const std::string text = with_steps.dump();
  archive.write("meta",
                at::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())}, at::kByte).clone());
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string content = bytes.str();
  const std::string sha = sha256_hex(content);
  const std::string name = state_file_name(step, sha);
  write_file_atomic(state_dir / name, content, "state.data");
  const json record = {{"format", kStateFormat}, {"file", name}, {"step", step}, {"bytes", content.size()},
                       {"sha256", sha}};
  write_file_atomic(state_manifest(state_dir), record.dump(2) + "\n", "state.manifest");
  crash_point("state.committed");
  remove_replaced(state_dir, name);
}

CommittedState::CommittedState(const fs::path& state_dir)
    : archive_(std::make_unique<torch::serialize::InputArchive>()) {
  const StateBytes state = read_state_bytes(state_dir);
  file_ = state.file;
  try {
    archive_->load_from(state.bytes.data(), state.bytes.size());
  } catch (const c10::Error& e) {
    throw std::runtime_error(fmt::format("cannot read training state {}: {}", file_.string(), e.what_without_backtrace()));
  }
  const at::Tensor meta_bytes = read("meta");
  json meta = json::parse(std::string(reinterpret_cast<const char*>(meta_bytes.data_ptr<uint8_t>()),
                                       static_cast<size_t>(meta_bytes.numel())),
                           nullptr, false);
  if (meta.is_discarded() || !meta.is_object())
    throw std::runtime_error(fmt::format("{}: its meta record is not a JSON object", file_.string()));
  meta_ = std::make_unique<json>(std::move(meta));
}

CommittedState::~CommittedState() = default;

bool CommittedState::try_read(const std::string& key, at::Tensor& out) { return archive_->try_read(key, out); }

at::Tensor CommittedState::read(const std::string& key) {
  at::Tensor t;
  if (!archive_->try_read(key, t)) throw std::runtime_error(fmt::format("{}: lacks '{}'", file_.string(), key));
  return t;
}

void CommittedState::restore(const NamedTensors& parameters, AdamW& optimizer, const c10::Device& device) {
  {
    at::NoGradGuard no_grad;
    for (const auto& [name, p] : parameters) {
      const at::Tensor t = read("model." + name);
      if (t.sizes() != p.sizes()) {
        throw std::runtime_error(fmt::format("{}: '{}' has shape {}, the model {}", file_.string(), name,
                                             fmt::join(t.sizes(), "x"), fmt::join(p.sizes(), "x")));
      }
      p.copy_(t);
    }
  }
  TensorMap moments;
  for (const auto& slot : optimizer.slots()) {
    for (const char* prefix : {"exp_avg.", "exp_avg_sq."}) {
      moments[prefix + slot.name] = read(std::string("optim.") + prefix + slot.name).to(device);
    }
  }
  const json& meta = *meta_;
  if (!meta.contains("optimizer_steps") || !meta["optimizer_steps"].is_number_integer())
    throw std::runtime_error(fmt::format("{}: lacks 'optimizer_steps' in its meta record", file_.string()));
  optimizer.load_state(moments, meta["optimizer_steps"].get<int64_t>());
}

TrainState load_training_state(const fs::path& state_dir, ElectraModel& model, AdamW& optimizer,
                               const c10::Device& device) {
  CommittedState state(state_dir);
  state.restore(model.named_parameters(), optimizer, device);
  const json& meta = state.meta();
  at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
  cpu_generator.set_state(state.read("rng.cpu"));
  at::Tensor cuda_rng;
  if (device.is_cuda() && state.try_read("rng.cuda", cuda_rng)) {
    at::Generator cuda_generator = at::globalContext().defaultGenerator(device);
    cuda_generator.set_state(cuda_rng);
  }
  TrainState s;
  s.step = meta.at("step");
  s.epoch = meta.at("epoch");
  s.batch_in_epoch = meta.at("batch_in_epoch");
  SelectionState& sel = s.selection;
  sel.best_score = meta.at("best_score").is_null() ? -std::numeric_limits<double>::infinity()
                                                   : meta.at("best_score").get<double>();
  sel.best_step = meta.at("best_step");
  sel.bad_evals = meta.at("bad_evals");
  sel.last_eval_step = meta.at("last_eval_step");
  sel.stopped_early = meta.at("stopped_early");
  s.examples_seen = meta.at("examples_seen");
  s.train_seconds = meta.at("train_seconds");
  s.window_loss = meta.at("window_loss");
  s.window_steps = meta.at("window_steps");
  return s;
}

}  // namespace electra

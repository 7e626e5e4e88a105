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

#include "common/files.h"

namespace electra {

namespace fs = std::filesystem;
using nlohmann::json;

void save_training_state(const fs::path& file, const ElectraModel& model, const AdamW& optimizer,
                         const TrainState& s, const c10::Device& device) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, p] : model.named_parameters()) archive.write("model." + name, p.detach().cpu());
  for (const auto& [name, t] : optimizer.state()) archive.write("optim." + name, t.cpu());
  archive.write("rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (device.is_cuda()) archive.write("rng.cuda", at::globalContext().defaultGenerator(device).get_state());
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
                     {"window_steps", s.window_steps},
                     {"optimizer_steps", optimizer.steps()}};
  const std::string text = meta.dump();
  archive.write("meta",
                at::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())}, at::kByte).clone());
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(file, bytes.str());
}

TrainState load_training_state(const fs::path& file, ElectraModel& model, AdamW& optimizer,
                               const c10::Device& device) {
  if (!fs::exists(file)) {
    throw std::runtime_error(fmt::format("cannot resume: {} does not exist (no training state saved yet)",
                                         file.string()));
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error& e) {
    throw std::runtime_error(fmt::format("cannot read training state {}: {}", file.string(), e.what_without_backtrace()));
  }
  auto read = [&](const std::string& key) {
    at::Tensor t;
    if (!archive.try_read(key, t)) throw std::runtime_error(fmt::format("{}: lacks '{}'", file.string(), key));
    return t;
  };
  {
    at::NoGradGuard no_grad;
    for (auto& [name, p] : model.named_parameters()) {
      const at::Tensor t = read("model." + name);
      if (t.sizes() != p.sizes()) {
        throw std::runtime_error(fmt::format("{}: '{}' has shape {}, the model {}", file.string(), name,
                                             fmt::join(t.sizes(), "x"), fmt::join(p.sizes(), "x")));
      }
      p.copy_(t);
    }
  }
  const at::Tensor meta_bytes = read("meta");
  const json meta = json::parse(std::string(reinterpret_cast<const char*>(meta_bytes.data_ptr<uint8_t>()),
                                            static_cast<size_t>(meta_bytes.numel())));
  TensorMap moments;
  for (const auto& slot : optimizer.slots()) {
    for (const char* prefix : {"exp_avg.", "exp_avg_sq."}) {
      moments[prefix + slot.name] = read(std::string("optim.") + prefix + slot.name).to(device);
    }
  }
  optimizer.load_state(moments, meta.at("optimizer_steps").get<int64_t>());
  at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
  cpu_generator.set_state(read("rng.cpu"));
  at::Tensor cuda_rng;
  if (device.is_cuda() && archive.try_read("rng.cuda", cuda_rng)) {
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

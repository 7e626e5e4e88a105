// Fine-tuning step and inference throughput of ElectraForSequenceClassification, measured the way
// ../shared/tools/hf_reference.py measures Hugging Face (and tools/gpu/hf_baseline.py reruns it in the same call):
// batch 32 x 128 tokens, AdamW, median of N steps after W warm-up steps; inference at batch 256 x 128.
// A step is what the trainer runs per optimizer step: forward (+ bf16 autocast), loss, loss.item() (the
// non-finite check), backward, global-norm clipping, AdamW, zero_grad.
//
// Optimizers: "fused" and "loop" are the trainer's two AdamW paths; "graph" (LibTorch 2 with CUDA headers only) is
// an experiment for the next step of the trainer, not something the trainer does yet: the whole fixed-shape step
// (zero grads, forward, loss, backward, multi-tensor clipping, fused AdamW) captured once as a CUDA graph and
// replayed, the loss read after each replay.
//
// usage: train_step_bench [--device cuda|cpu] [--model small|base] [--batch 32] [--seq 128] [--steps 40]
//                         [--warmup 5] [--infer-batch 256] [--modes fp32,tf32,bf16] [--optimizers fused,loop,graph]
//                         [--json FILE]
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "architectures/electra_model.h"
#include "common/blas.h"
#include "model/config.h"
#include "model/runtime.h"
#include "model/torch_features.h"
#include "train/autocast.h"
#include "train/optimizer.h"

#if ELECTRA_FOREACH_MUL_TENSOR && __has_include(<cuda_runtime_api.h>) && __has_include(<ATen/cuda/CUDAGraph.h>)
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define ELECTRA_BENCH_CUDA_GRAPHS 1
#else
#define ELECTRA_BENCH_CUDA_GRAPHS 0
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string device = "cuda";
  std::string model = "small";
  int64_t batch = 32, seq = 128, steps = 40, warmup = 5, infer_batch = 256;
  std::vector<std::string> modes{"fp32", "tf32", "bf16"};
  std::vector<std::string> optimizers{"fused", "loop"};
  std::string json;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", key));
    const std::string value = argv[++i];
    if (key == "--device") a.device = value;
    else if (key == "--model") a.model = value;
    else if (key == "--batch") a.batch = std::stoll(value);
    else if (key == "--seq") a.seq = std::stoll(value);
    else if (key == "--steps") a.steps = std::stoll(value);
    else if (key == "--warmup") a.warmup = std::stoll(value);
    else if (key == "--infer-batch") a.infer_batch = std::stoll(value);
    else if (key == "--modes") a.modes = split_list(value);
    else if (key == "--optimizers") a.optimizers = split_list(value);
    else if (key == "--json") a.json = value;
    else throw std::invalid_argument(fmt::format("unknown option {}", key));
  }
  if (a.model != "small" && a.model != "base") throw std::invalid_argument("--model: small or base");
  return a;
}

// Google's ELECTRA-small / -base shapes with a 32k vocabulary (TUNiB-Electra's), two labels.
electra::ElectraConfig bench_config(const std::string& model) {
  electra::ElectraConfig c;
  c.vocab_size = 32000;
  c.max_position_embeddings = 512;
  if (model == "base") {
    c.embedding_size = 768;
    c.hidden_size = 768;
    c.num_attention_heads = 12;
    c.intermediate_size = 3072;
  } else {
    c.embedding_size = 128;
    c.hidden_size = 256;
    c.num_attention_heads = 4;
    c.intermediate_size = 1024;
  }
  c.num_hidden_layers = 12;
  c.architecture = electra::Architecture::sequence_classification;
  c.id2label = electra::default_labels(2);
  return c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Wall time of each of `steps` calls of `step`, in ms.
template <class Step>
std::vector<double> time_steps(int64_t steps, Step&& step) {
  std::vector<double> times;
  for (int64_t i = 0; i < steps; ++i) {
    const auto t = Clock::now();
    step();
    times.push_back(ms_since(t));
  }
  return times;
}

nlohmann::json step_result(const Args& a, const std::string& mode, const std::string& optimizer,
                           const std::vector<double>& times, double warmup_ms, double last_loss) {
  const double train_ms = median(times);
  nlohmann::json r;
  r["mode"] = mode;
  r["optimizer"] = optimizer;
  r["train_step_ms_median"] = train_ms;
  r["train_step_ms_min"] = *std::min_element(times.begin(), times.end());
  r["train_step_ms_max"] = *std::max_element(times.begin(), times.end());
  r["train_seq_per_s"] = static_cast<double>(a.batch) / train_ms * 1000.0;
  r["warmup_s"] = warmup_ms / 1000.0;
  r["last_loss"] = last_loss;
  return r;
}

// The whole step as one CUDA graph (see the top of the file). The attention mask is left out (all ones), so that
// the forward needs no host check; the learning rate is fixed at capture.
nlohmann::json run_graph_mode(const Args& a, const std::string& mode, electra::ElectraModel& model,
                              electra::AdamW& optimizer, const at::Tensor& ids, const at::Tensor& types,
                              const electra::ModelTargets& targets) {
#if ELECTRA_BENCH_CUDA_GRAPHS
  const bool bf16 = mode == "bf16";
  std::vector<at::Tensor> params, exp_avgs, exp_avg_sqs;
  for (const auto& s : optimizer.slots()) {
    params.push_back(s.param);
    exp_avgs.push_back(s.exp_avg);
    exp_avg_sqs.push_back(s.exp_avg_sq);
  }
  for (auto& p : params) p.mutable_grad() = at::zeros_like(p);  // static gradients, zeroed in place
  std::vector<at::Tensor> grads;
  for (auto& p : params) grads.push_back(p.grad());
  const at::Tensor step_count = at::zeros({}, params.front().options());
  const std::vector<at::Tensor> steps(params.size(), step_count);
  at::Tensor loss;
  auto body = [&] {
    at::_foreach_zero_(grads);
    {
      electra::AutocastGuard autocast(bf16);
      loss = model.loss(model.forward(ids, at::Tensor(), types), targets);
    }
    loss.backward();
    at::NoGradGuard no_grad;
    const at::Tensor total = at::stack(at::_foreach_norm(grads, 2)).norm(2);
    at::_foreach_mul_(grads, at::clamp(1.0 / (total + 1e-6), c10::nullopt, 1.0));
    step_count.add_(1);
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, steps, 1e-4, 0.9, 0.999, 0.01, 1e-8, false, false);
  };
  at::autocast::set_autocast_cache_enabled(false);  // cached casts must not outlive the capture
  const auto warm_start = Clock::now();
  at::cuda::CUDAGraph graph;
  {
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    c10::cuda::CUDAStreamGuard guard(side);
    for (int64_t i = 0; i < std::max<int64_t>(3, a.warmup); ++i) body();  // allocator and cuBLAS warm-up
    side.synchronize();
    graph.capture_begin();
    body();
    graph.capture_end();
  }
  graph.replay();
  double last_loss = loss.item<double>();
  const double warmup_ms = ms_since(warm_start);
  const std::vector<double> times = time_steps(a.steps, [&] {
    graph.replay();
    last_loss = loss.item<double>();  // the trainer's non-finite check, one sync per step
  });
  at::autocast::set_autocast_cache_enabled(true);
  return step_result(a, mode, "graph", times, warmup_ms, last_loss);
#else
  (void)a, (void)mode, (void)model, (void)optimizer, (void)ids, (void)types, (void)targets;
  throw std::runtime_error("the graph mode needs LibTorch 2 built with CUDA");
#endif
}

nlohmann::json run_mode(const Args& a, const std::string& mode, const std::string& optimizer_kind) {
  const at::Device device(a.device);
  const bool cuda = device.is_cuda();
  const bool bf16 = mode == "bf16";
  if (cuda) at::globalContext().setFloat32MatmulPrecision(mode == "tf32" ? "high" : "highest");
  at::manual_seed(0);
  electra::ElectraModel model(bench_config(a.model));
  model.module()->to(device);
  model.module()->train();
  electra::OptimizerOptions oo;
  oo.learning_rate = 1e-4;
  oo.weight_decay = 0.01;
  oo.fused = optimizer_kind != "loop";
  electra::AdamW optimizer(model, oo);

  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor ids = at::randint(5, 32000, {a.batch, a.seq}, long_opts);
  const at::Tensor mask = at::ones({a.batch, a.seq}, long_opts);
  const at::Tensor types = at::zeros({a.batch, a.seq}, long_opts);
  electra::ModelTargets targets;
  targets.labels = at::randint(0, 2, {a.batch}, long_opts);

  double last_loss = 0;
  if (optimizer_kind == "graph") return run_graph_mode(a, mode, model, optimizer, ids, types, targets);
  auto step = [&] {
    at::Tensor loss;
    {
      electra::AutocastGuard autocast(bf16 && cuda);
      loss = model.loss(model.forward(ids, mask, types), targets);
    }
    last_loss = loss.item<double>();
    loss.backward();
    electra::clip_grad_norm(optimizer.slots(), 1.0);
    optimizer.step(1e-4);
    optimizer.zero_grad();
  };
  const auto warm_start = Clock::now();
  for (int64_t i = 0; i < a.warmup; ++i) step();
  const double warmup_ms = ms_since(warm_start);
  // Each step's loss.item() waits for the previous step's queued optimizer kernels, so in steady state one
  // step's wall time is one full step of GPU work (plus whatever host time the GPU could not hide).
  const std::vector<double> times = time_steps(a.steps, step);
  nlohmann::json r =
      step_result(a, mode, optimizer.uses_fused_kernel() ? "fused" : "loop", times, warmup_ms, last_loss);

  if (optimizer_kind == a.optimizers.front()) {  // inference once per precision
    at::NoGradGuard no_grad;
    model.module()->eval();
    const at::Tensor iids = at::randint(5, 32000, {a.infer_batch, a.seq}, long_opts);
    const at::Tensor imask = at::ones({a.infer_batch, a.seq}, long_opts);
    const at::Tensor itypes = at::zeros({a.infer_batch, a.seq}, long_opts);
    auto infer = [&] {
      electra::AutocastGuard autocast(bf16 && cuda);
      return model.forward(iids, imask, itypes).logits.to(at::kFloat).cpu();  // .cpu() waits for the GPU
    };
    for (int i = 0; i < 3; ++i) infer();
    const double infer_ms = median(time_steps(std::max<int64_t>(5, a.steps / 2), infer));
    r["infer_batch_ms_median"] = infer_ms;
    r["infer_seq_per_s"] = static_cast<double>(a.infer_batch) / infer_ms * 1000.0;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  electra::restart_with_better_openblas_kernels(argv);  // the kernels electra itself runs with
  try {
    const Args a = parse(argc, argv);
    if (a.device == "cuda" && electra::cuda_device_count() == 0) throw std::runtime_error("no CUDA device");
    fmt::print("electra train_step_bench: LibTorch {}, device {}, ELECTRA-{}, batch {} x {} tokens, median of {} "
               "steps after {} warm-up; inference batch {}\n",
               TORCH_VERSION, a.device, a.model, a.batch, a.seq, a.steps, a.warmup, a.infer_batch);
    fmt::print("| mode | AdamW | train step ms | train seq/s | infer seq/s | warm-up s |\n| --- | --- | --- | --- | --- | --- |\n");
    nlohmann::json all = nlohmann::json::array();
    for (const auto& mode : a.modes) {
      if (mode != "fp32" && mode != "tf32" && mode != "bf16") throw std::invalid_argument("mode: fp32, tf32 or bf16");
      for (const auto& opt : a.optimizers) {
        if (opt != "fused" && opt != "loop" && opt != "graph") {
          throw std::invalid_argument("optimizer: fused, loop or graph");
        }
        nlohmann::json r;
        try {
          r = run_mode(a, mode, opt);
        } catch (const std::exception& e) {
          r = {{"mode", mode}, {"optimizer", opt}, {"error", e.what()}};
          fmt::print("| {} | {} | error: {} |\n", mode, opt, std::string(e.what()).substr(0, 300));
          all.push_back(r);
          continue;
        }
        fmt::print("| {} | {} | {:.2f} | {:.0f} | {} | {:.2f} |\n", mode, r["optimizer"].get<std::string>(),
                   r["train_step_ms_median"].get<double>(), r["train_seq_per_s"].get<double>(),
                   r.contains("infer_seq_per_s") ? fmt::format("{:.0f}", r["infer_seq_per_s"].get<double>()) : "",
                   r["warmup_s"].get<double>());
        std::fflush(stdout);
        all.push_back(r);
      }
    }
    if (!a.json.empty()) std::ofstream(a.json) << all.dump(1) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "train_step_bench: error: " << e.what() << "\n";
    return 1;
  }
}

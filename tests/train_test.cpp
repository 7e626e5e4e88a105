#include <nlohmann/json.hpp>
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include "architectures/electra_model.h"
#include "common/files.h"
#include "model/runtime.h"
#include "model/torch_features.h"
#include "tasks/task.h"
#include "tests/catch.h"
#include "tests/model_support.h"
#include "tests/support.h"
#include "train/batcher.h"
#include "train/optimizer.h"
#include "train/options.h"
#include "train/run_dir.h"
#include "train/selection.h"
#include "train/step.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kFixtures = electra::test::fixtures_dir();

at::Tensor long_tensor(const json& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows) {
    for (const auto& v : r) flat.push_back(v.get<int64_t>());
  }
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

at::Tensor float_tensor(const json& nested) {
  std::vector<float> flat;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_array()) {
      for (const auto& x : j) walk(x);
    } else {
      flat.push_back(j.get<float>());
    }
  };
  walk(nested);
  return at::tensor(flat);
}

fs::path temp_dir(const std::string& name) { return electra::test::fresh_dir("train_" + name); }

}  // namespace

TEST_CASE("trainer three AdamW steps match Hugging Face", "[train]") {
  const json cases = json::parse(electra::read_file(kFixtures / "train" / "hf_train_steps.json"));
  const auto& inputs = cases["inputs"];
  const at::Tensor ids = long_tensor(inputs["input_ids"]);
  const at::Tensor mask = long_tensor(inputs["attention_mask"]);
  const at::Tensor types = long_tensor(inputs["token_type_ids"]);

  for (const std::string name : {"seqcls3", "tokcls"}) {
    SECTION(name) {
      const auto& ref = cases["models"][name];
      electra::ElectraModel model = electra::load_pretrained(kFixtures / "models" / name);
      model.module()->train();  // dropout is 0 in the fixture
      electra::OptimizerOptions o;
      o.learning_rate = 1e-3;
      o.weight_decay = 0.01;
      o.adam_epsilon = 1e-8;
      o.max_grad_norm = 1.0;
      electra::AdamW optimizer(model, o);
      at::Tensor initial;
      {
        at::NoGradGuard no_grad;
        initial = model.forward(ids, mask, types).logits.flatten().clone();
      }
      electra::ModelTargets targets;
      targets.labels = name == "seqcls3" ? at::tensor(ref["labels"].get<std::vector<int64_t>>(), at::kLong)
                                         : long_tensor(ref["labels"]);
      // The trainer's own step: forward, loss, backward, clipping, AdamW, zeroed gradients.
      electra::TrainStep train_step(model, optimizer, o.max_grad_norm, false);
      std::vector<electra::Batch> batch(1);
      batch[0].input_ids = ids;
      batch[0].attention_mask = mask;
      batch[0].token_type_ids = types;
      batch[0].targets = targets;
      for (int step = 0; step < 3; ++step) {
        const electra::StepResult r =
            train_step.run(batch, o.learning_rate * electra::schedule_factor("constant", step, 0, 3));
        const double hf_loss = ref["train_steps"][step]["loss"];
        const double hf_norm = ref["train_steps"][step]["grad_norm_before_clip"];
        INFO("step " << step);
        REQUIRE(r.finite);
        CHECK(std::abs(r.loss - hf_loss) <= 1e-4 * std::abs(hf_loss));
        CHECK(std::abs(r.grad_norm - hf_norm) <= 1e-4 * std::abs(hf_norm));
      }
      model.module()->eval();
      at::NoGradGuard no_grad;
      const at::Tensor logits = model.forward(ids, mask, types).logits.flatten();
      const at::Tensor hf = float_tensor(ref["logits_after_3_steps"]);
      REQUIRE(logits.numel() == hf.numel());
      const double tolerance = 1e-4 * hf.abs().max().item<double>();
      CHECK((logits - hf).abs().max().item<double>() <= tolerance);
      // The three updates moved the logits by far more than the tolerance, so the check above is not vacuous.
      CHECK((initial - hf).abs().max().item<double>() > 10 * tolerance);
    }
  }
}

TEST_CASE("optimizer groups layer-wise learning rates and weight decay", "[train]") {
  electra::ElectraModel model = electra::load_pretrained(kFixtures / "models" / "seqcls3");
  electra::OptimizerOptions o;
  o.weight_decay = 0.01;
  o.layerwise_lr_decay = 0.8;
  electra::AdamW optimizer(model, o);
  const int64_t layers = model.config().num_hidden_layers;  // 2
  bool saw_embedding = false, saw_top = false, saw_head = false, saw_bias = false, saw_norm = false;
  for (const auto& slot : optimizer.slots()) {
    const int64_t depth = model.parameter_depth(slot.name);
    CHECK(slot.lr_scale == Approx(std::pow(0.8, static_cast<double>(layers + 1 - depth))));
    if (slot.name.find("embeddings.word_embeddings") != std::string::npos) {
      saw_embedding = true;
      CHECK(slot.lr_scale == Approx(std::pow(0.8, 3)));
    }
    if (slot.name.find("encoder.layer.1.") != std::string::npos) {
      saw_top = true;
      CHECK(slot.lr_scale == Approx(0.8));
    }
    if (slot.name.rfind("classifier.", 0) == 0) {
      saw_head = true;
      CHECK(slot.lr_scale == Approx(1.0));
    }
    const bool no_decay = slot.name.size() >= 4 && (slot.name.substr(slot.name.size() - 4) == "bias" ||
                                                    slot.name.find("LayerNorm.weight") != std::string::npos);
    CHECK(slot.weight_decay == (no_decay ? 0.0 : 0.01));
    saw_bias |= slot.name.substr(slot.name.size() - 4) == "bias";
    saw_norm |= slot.name.find("LayerNorm.weight") != std::string::npos;
  }
  CHECK(saw_embedding);
  CHECK(saw_top);
  CHECK(saw_head);
  CHECK(saw_bias);
  CHECK(saw_norm);
}

TEST_CASE("on CUDA, the fused AdamW kernel and the fast attention match the reference paths", "[train][cuda]") {
  if (!(electra::cuda_device_count() > 0)) {
    WARN("no CUDA device here: the CUDA fast paths are checked on the GPU machine (tools/gpu/device_check.sh)");
    return;
  }
  const auto config = electra::test::tiny_config(100, electra::Architecture::sequence_classification, 3);
  const at::Tensor ids = at::randint(5, 100, {4, 16}, at::kLong);
  at::Tensor mask = at::ones({4, 16}, at::kLong);
  mask.slice(1, 10, 16).select(0, 1).zero_();  // one padded row
  const at::Tensor types = at::zeros({4, 16}, at::kLong);
  electra::ModelTargets targets;
  targets.labels = at::tensor({0, 1, 2, 1}, at::kLong);

  auto train = [&](const at::Device& device, bool fused, electra::ModelOutput* first_output) {
    at::manual_seed(3);
    electra::ElectraModel model(config);
    model.module()->to(device);
    model.module()->train();
    electra::OptimizerOptions oo;
    oo.weight_decay = 0.01;
    oo.fused = fused;
    electra::AdamW optimizer(model, oo);
    electra::ModelTargets t;
    t.labels = targets.labels.to(device);
    for (int step = 0; step < 3; ++step) {
      const auto out = model.forward(ids.to(device), mask.to(device), types.to(device));
      if (step == 0 && first_output) *first_output = out;
      model.loss(out, t).backward();
      electra::clip_grad_norm(optimizer.slots(), 1.0);
      optimizer.step(1e-3);
      optimizer.zero_grad();
    }
    std::map<std::string, at::Tensor> params;
    for (auto& [name, p] : model.named_parameters()) params[name] = p.detach().cpu();
    return std::make_pair(params, optimizer.uses_fused_kernel());
  };
  electra::ModelOutput cpu_out, cuda_out;
  const auto [reference, cpu_fused] = train(at::kCPU, false, &cpu_out);
  const auto [fused, uses_fused] = train(at::kCUDA, true, &cuda_out);
  const auto [loop, loop_fused] = train(at::kCUDA, false, nullptr);
  CHECK_FALSE(cpu_fused);
  CHECK_FALSE(loop_fused);
#if ELECTRA_FUSED_KERNELS
  CHECK(uses_fused);
#endif
  const double logit_diff = (cpu_out.logits - cuda_out.logits.cpu()).abs().max().item<double>();
  INFO("first forward, CPU vs CUDA logits: " << logit_diff);
  CHECK(logit_diff < 1e-4);
  double fused_vs_loop = 0, cuda_vs_cpu = 0;
  for (const auto& [name, p] : reference) {
    fused_vs_loop = std::max(fused_vs_loop, (fused.at(name) - loop.at(name)).abs().max().item<double>());
    cuda_vs_cpu = std::max(cuda_vs_cpu, (loop.at(name) - p).abs().max().item<double>());
  }
  INFO("after 3 steps: fused vs per-tensor " << fused_vs_loop << ", CUDA vs CPU " << cuda_vs_cpu);
  CHECK(fused_vs_loop < 1e-5);
  CHECK(cuda_vs_cpu < 1e-4);
}

TEST_CASE("schedule factors follow Hugging Face", "[train]") {
  using electra::schedule_factor;
  SECTION("linear warmup then linear decay to zero") {
    CHECK(schedule_factor("linear", 0, 10, 110) == Approx(0.0));
    CHECK(schedule_factor("linear", 5, 10, 110) == Approx(0.5));
    CHECK(schedule_factor("linear", 10, 10, 110) == Approx(1.0));
    CHECK(schedule_factor("linear", 60, 10, 110) == Approx(0.5));
    CHECK(schedule_factor("linear", 110, 10, 110) == Approx(0.0));
  }
  SECTION("constant after warmup") {
    CHECK(schedule_factor("constant", 2, 4, 100) == Approx(0.5));
    CHECK(schedule_factor("constant", 99, 4, 100) == Approx(1.0));
  }
  SECTION("cosine half wave") {
    CHECK(schedule_factor("cosine", 0, 0, 100) == Approx(1.0));
    CHECK(schedule_factor("cosine", 50, 0, 100) == Approx(0.5));
    CHECK(schedule_factor("cosine", 100, 0, 100) == Approx(0.0).margin(1e-12));
  }
  SECTION("warmup from a ratio rounds up like transformers") {
    electra::ScheduleOptions s;
    s.warmup_ratio = 0.1;
    CHECK(electra::warmup_steps_for(s, 95) == 10);
    s.warmup_steps = 3;
    CHECK(electra::warmup_steps_for(s, 95) == 3);
  }
  SECTION("unknown schedule") { CHECK_THROWS_AS(schedule_factor("step", 1, 0, 10), std::invalid_argument); }
}

TEST_CASE("clip_grad_norm scales gradients to the max norm", "[train]") {
  electra::ElectraModel model = electra::load_pretrained(kFixtures / "models" / "seqcls3");
  electra::AdamW optimizer(model, {});
  for (const auto& slot : optimizer.slots()) slot.param.mutable_grad() = at::full_like(slot.param, 0.5);
  const double norm = electra::clip_grad_norm(optimizer.slots(), 1.0);
  int64_t n = 0;
  for (const auto& slot : optimizer.slots()) n += slot.param.numel();
  CHECK(norm == Approx(0.5 * std::sqrt(static_cast<double>(n))).epsilon(1e-5));
  std::vector<at::Tensor> norms;
  for (const auto& slot : optimizer.slots()) norms.push_back(slot.param.grad().norm());
  CHECK(at::stack(norms).norm().item<double>() == Approx(1.0).epsilon(1e-3));  // float32 sums of 300k squares
}

TEST_CASE("batcher pads to bucket lengths and orders by seed", "[train]") {
  CHECK(electra::bucket_length(5, 16, 128) == 16);
  CHECK(electra::bucket_length(17, 16, 128) == 32);
  CHECK(electra::bucket_length(120, 32, 128) == 128);
  CHECK(electra::bucket_length(128, 32, 100) == 128);  // never shorter than the longest row
  // data.bucket_multiple 0 (the default): the longest row on the CPU, multiples of 8 on CUDA
  CHECK(electra::padding_multiple(0, false) == 1);
  CHECK(electra::padding_multiple(0, true) == 8);
  CHECK(electra::padding_multiple(16, false) == 16);
  CHECK(electra::bucket_length(21, electra::padding_multiple(0, false), 128) == 21);

  std::vector<electra::Feature> features(3);
  features[0].input_ids = {2, 10, 3};
  features[1].input_ids = {2, 10, 11, 12, 13, 3};
  features[2].input_ids = {2, 3};
  for (auto& f : features) f.token_type_ids.assign(f.input_ids.size(), 0);
  features[0].label = 1;
  features[1].label = 0;
  features[2].label = 1;
  const electra::Batch b = electra::collate(features, {1, 0}, electra::HeadKind::sequence_classification, 4, 128, true);
  CHECK(b.input_ids.sizes() == at::IntArrayRef({2, 8}));
  CHECK(b.attention_mask.sum().item<int64_t>() == 9);
  CHECK(b.input_ids[1][3].item<int64_t>() == 0);
  CHECK(b.targets.labels[0].item<int64_t>() == 0);

  const auto a = electra::epoch_order(50, 42, 0);
  CHECK(a == electra::epoch_order(50, 42, 0));
  CHECK(a != electra::epoch_order(50, 42, 1));
  CHECK(a != electra::epoch_order(50, 43, 0));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(sorted[i] == i);
  const auto chunks = electra::chunk(a, 16);
  REQUIRE(chunks.size() == 4);
  CHECK(chunks.back().size() == 2);
}

TEST_CASE("experiment config resolves defaults, files, base files and --set", "[train]") {
  const fs::path dir = temp_dir("config");
  std::ofstream(dir / "base.yaml") << "model: some/model\nseeds: [1, 2, 3]\noptimizer:\n  learning_rate: 1e-4\n"
                                      "  weight_decay: 0.01\n";
  std::ofstream(dir / "task.yaml") << "base: base.yaml\ntask: nsmc\noptimizer:\n  learning_rate: 5e-5\n"
                                      "train:\n  epochs: 2\n  batch_size: 16\n";
  SECTION("inheritance and overrides") {
    const auto o = electra::load_experiment(dir / "task.yaml", {"train.batch_size=8", "device=auto"});
    CHECK(o.model == "some/model");
    CHECK(o.task == "nsmc");
    CHECK(o.optimizer.learning_rate == 5e-5);
    CHECK(o.optimizer.weight_decay == 0.01);
    CHECK(o.seeds == std::vector<int64_t>{1, 2, 3});
    CHECK(o.train.epochs == 2.0);
    CHECK(o.train.batch_size == 8);
    CHECK(o.device == "auto");
    CHECK(o.optimizer.adam_epsilon == 1e-8);  // default
  }
  SECTION("a section or key given twice is merged with a warning naming file and lines") {
    std::ofstream(dir / "twice.yaml") << "task: nsmc\ntrain:\n  epochs: 2\noptimizer:\n  learning_rate: 1e-4\n"
                                         "train:\n  batch_size: 8\n  batch_size: 4\n";
    const auto o = electra::load_experiment(dir / "twice.yaml");
    CHECK(o.train.epochs == 2.0);
    CHECK(o.train.batch_size == 4);
    REQUIRE(o.warnings.size() == 2);
    CHECK(o.warnings[0] == (dir / "twice.yaml").string() +
                               ":6: section 'train' given twice (first at line 2); their keys are merged, later ones win");
    CHECK(o.warnings[1] ==
          (dir / "twice.yaml").string() + ":8: key 'train.batch_size' given twice (first at line 7); the value of line 8 is used");
    CHECK(electra::load_experiment(dir / "task.yaml").warnings.empty());
    // finetune shows them.
    const auto shown = electra::test::run_electra("finetune --dump-config --model some/model --config '" +
                                                  (dir / "twice.yaml").string() + "'");
    CHECK(shown.status == 0);
    CHECK(electra::test::contains(shown.err, "electra: warning: " + o.warnings[0]));
    CHECK(electra::test::contains(shown.out, "batch_size: 4"));
  }
  SECTION("dump round-trips") {
    const auto o = electra::load_experiment(dir / "task.yaml", {"schedule.name=cosine", "seeds=[7]"});
    std::ofstream(dir / "dumped.yaml") << electra::to_yaml(o);
    const auto again = electra::load_experiment(dir / "dumped.yaml");
    CHECK(electra::to_yaml(again) == electra::to_yaml(o));
    CHECK(again.schedule.name == "cosine");
    CHECK(again.seeds == std::vector<int64_t>{7});
    CHECK(again.optimizer.learning_rate == 5e-5);
  }
  SECTION("batch_size auto keeps the batch size the key had and makes gradient accumulation auto") {
    std::ofstream(dir / "big.yaml") << "task: nsmc\ntrain:\n  batch_size: 128\n  gradient_accumulation_steps: 4\n";
    const auto o = electra::load_experiment(dir / "big.yaml", {"train.batch_size=auto"});
    CHECK(o.train.batch_size == 128);
    CHECK(o.train.accumulation_auto);
    const std::string yaml = electra::to_yaml(o);
    CHECK(electra::test::contains(yaml, "batch_size: 128\n"));
    CHECK(electra::test::contains(yaml, "gradient_accumulation_steps: auto\n"));
    std::ofstream(dir / "written.yaml") << yaml;
    const auto again = electra::load_experiment(dir / "written.yaml");
    CHECK(again.train.batch_size == 128);
    CHECK(again.train.accumulation_auto);
    CHECK(electra::to_yaml(again) == yaml);
    // Alone in a file, auto keeps the default batch size; a number for the accumulation turns auto off.
    std::ofstream(dir / "alone.yaml") << "task: nsmc\ntrain:\n  batch_size: auto\n";
    const auto alone = electra::load_experiment(dir / "alone.yaml");
    CHECK(alone.train.batch_size == 32);
    CHECK(alone.train.accumulation_auto);
    const auto fixed = electra::load_experiment(dir / "alone.yaml", {"train.gradient_accumulation_steps=2"});
    CHECK_FALSE(fixed.train.accumulation_auto);
    CHECK(fixed.train.gradient_accumulation_steps == 2);
  }
  SECTION("unknown key names the key and the file") {
    std::ofstream(dir / "bad.yaml") << "task: nsmc\noptimizer:\n  learning_rat: 1e-4\n";
    try {
      electra::load_experiment(dir / "bad.yaml");
      FAIL("no error");
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      CHECK(m.find("optimizer.learning_rat") != std::string::npos);
      CHECK(m.find("bad.yaml:3") != std::string::npos);
    }
  }
  SECTION("unknown section") {
    std::ofstream(dir / "bad.yaml") << "optimiser:\n  learning_rate: 1e-4\n";
    CHECK_THROWS_AS(electra::load_experiment(dir / "bad.yaml"), std::invalid_argument);
  }
  SECTION("wrong type names key and value") {
    std::ofstream(dir / "bad.yaml") << "train:\n  batch_size: many\n";
    try {
      electra::load_experiment(dir / "bad.yaml");
      FAIL("no error");
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      CHECK(m.find("train.batch_size") != std::string::npos);
      CHECK(m.find("'many'") != std::string::npos);
    }
    std::ofstream(dir / "bad2.yaml") << "train:\n  bf16: yes please\n";
    CHECK_THROWS_AS(electra::load_experiment(dir / "bad2.yaml"), std::invalid_argument);
    std::ofstream(dir / "bad3.yaml") << "seeds: {a: 1}\n";
    CHECK_THROWS_AS(electra::load_experiment(dir / "bad3.yaml"), std::invalid_argument);
  }
  SECTION("bad --set") {
    CHECK_THROWS_AS(electra::load_experiment(dir / "task.yaml", {"train.nope=1"}), std::invalid_argument);
    CHECK_THROWS_AS(electra::load_experiment(dir / "task.yaml", {"no_equals_sign"}), std::invalid_argument);
    CHECK_THROWS_AS(electra::load_experiment(dir / "task.yaml", {"optimizer.learning_rate=fast"}),
                    std::invalid_argument);
  }
  SECTION("invalid values") {
    auto o = electra::load_experiment(dir / "task.yaml");
    electra::validate(o);
    o.train.gradient_accumulation_steps = 3;  // 16 % 3 != 0
    CHECK_THROWS_AS(electra::validate(o), std::invalid_argument);
    o = electra::load_experiment(dir / "task.yaml", {"schedule.name=step"});
    CHECK_THROWS_AS(electra::validate(o), std::invalid_argument);
    o = electra::load_experiment(dir / "task.yaml", {"device=tpu"});
    CHECK_THROWS_AS(electra::validate(o), std::invalid_argument);
    o = electra::load_experiment(dir / "task.yaml", {"data.bucket_multiple=-8"});
    CHECK_THROWS_AS(electra::validate(o), std::invalid_argument);
    o = electra::load_experiment(dir / "task.yaml", {"data.bucket_multiple=0"});
    CHECK_NOTHROW(electra::validate(o));
    // A seed twice would count one run twice in the median (75.80 where the leaderboard said 71.90).
    o = electra::load_experiment(dir / "task.yaml", {"seeds=[1, 1, 2]"});
    try {
      electra::validate(o);
      FAIL("duplicate seeds were accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("lists seed 1 twice") != std::string::npos);
      CHECK(std::string(e.what()).find("seeds") != std::string::npos);
    }
  }
  SECTION("missing file and base cycle") {
    CHECK_THROWS_AS(electra::load_experiment(dir / "absent.yaml"), std::runtime_error);
    std::ofstream(dir / "a.yaml") << "base: b.yaml\n";
    std::ofstream(dir / "b.yaml") << "base: a.yaml\n";
    CHECK_THROWS_AS(electra::load_experiment(dir / "a.yaml"), std::invalid_argument);
  }
}

TEST_CASE("shipped experiment configs are valid and carry the published setups", "[train]") {
  const fs::path configs = fs::path(electra::source_dir()) / "configs";
  int count = 0;
  for (const std::string suite : {"korean", "glue", "demo"}) {
    for (const auto& entry : electra::list_directory(configs / suite)) {
      INFO(entry.string());
      const auto o = electra::load_experiment(entry);
      CHECK_NOTHROW(electra::validate(o));
      CHECK_NOTHROW(electra::find_task(o.task));
      CHECK(entry.stem().string() == o.task);
      if (suite == "korean") {
        CHECK(o.model == "tunib/electra-ko-en-small");
        CHECK(o.optimizer.adam_epsilon == 1e-8);
        CHECK(o.optimizer.weight_decay == 0.0);
        CHECK(o.optimizer.layerwise_lr_decay == 1.0);
        CHECK(o.seeds == std::vector<int64_t>{42});
      }
      if (suite == "glue") {
        CHECK(o.optimizer.learning_rate == 1e-4);
        CHECK(o.optimizer.layerwise_lr_decay == 0.8);
        CHECK(o.optimizer.adam_epsilon == 1e-6);
        CHECK(o.schedule.warmup_ratio == 0.1);
        CHECK(o.train.epochs == ((o.task == "rte" || o.task == "stsb") ? 10.0 : 3.0));
        CHECK(o.data.swap_pairs == (o.task == "mrpc" || o.task == "stsb"));
      }
      if (suite == "demo") {  // the shipped model that `electra pretrain` made, with room for the demo's lengths
        CHECK(o.model == "examples/electra-nsmc-tiny");
        const fs::path model = fs::path(electra::source_dir()) / o.model;
        REQUIRE(fs::exists(model / "model.safetensors"));
        std::ifstream in(model / "config.json");
        const auto config = nlohmann::json::parse(in);
        CHECK(config.at("architectures").at(0) == "ElectraForPreTraining");
        CHECK(config.at("max_position_embeddings").get<int64_t>() >= o.data.max_seq_length);
        CHECK(fs::exists(model / "pretrain_config.yaml"));
      }
      ++count;
    }
  }
  CHECK(count == 17);
  const auto paws = electra::load_experiment(configs / "korean" / "paws.yaml");
  CHECK(paws.optimizer.learning_rate == 3e-5);
  CHECK(paws.train.batch_size == 64);
  CHECK(paws.train.epochs == 15.0);
  const auto korquad = electra::load_experiment(configs / "korean" / "korquad.yaml");
  CHECK(korquad.data.max_seq_length == 512);
  CHECK(korquad.train.epochs == 7.0);
}

TEST_CASE("dev selection keeps the best score and stops after the patience", "[train]") {
  electra::TrainOptions options;
  options.early_stopping_patience = 2;
  electra::SelectionState state;
  SECTION("a strictly higher score is the new best; equal and lower ones count towards the patience") {
    CHECK(electra::observe_dev_score(state, options, 10, 50.0).improved);
    const auto same = electra::observe_dev_score(state, options, 20, 50.0);
    CHECK_FALSE(same.improved);
    CHECK_FALSE(same.stop);
    CHECK(state.bad_evals == 1);
    CHECK(electra::observe_dev_score(state, options, 30, 60.0).improved);
    CHECK(state.bad_evals == 0);
    CHECK_FALSE(electra::observe_dev_score(state, options, 40, 55.0).stop);
    const auto last = electra::observe_dev_score(state, options, 50, 59.0);
    CHECK(last.stop);
    CHECK(state.stopped_early);
    CHECK(state.best_step == 30);
    CHECK(state.best_score == 60.0);
    CHECK(state.last_eval_step == 50);
  }
  SECTION("without select_best nothing is selected and nothing stops") {
    options.select_best = false;
    for (int64_t step = 1; step <= 5; ++step) {
      const auto d = electra::observe_dev_score(state, options, step, static_cast<double>(step));
      CHECK_FALSE(d.improved);
      CHECK_FALSE(d.stop);
    }
    CHECK(state.best_step == -1);
    CHECK(state.last_eval_step == 5);
  }
}

TEST_CASE("run directory refuses a run without resume and keeps metrics up to the resumed step", "[train]") {
  const fs::path root = temp_dir("run_dir");
  electra::RunDirectory dir(root / "run");
  electra::ExperimentOptions options;
  options.task = "nsmc";
  dir.open(options, false);
  CHECK(electra::load_experiment(root / "run" / "config.yaml").task == "nsmc");
  for (int64_t step : {5, 10, 15}) dir.append_metrics({{"type", "train"}, {"step", step}});
  dir.truncate_metrics(10);
  CHECK(electra::read_file(dir.metrics_file()) ==
        "{\"step\":5,\"type\":\"train\"}\n{\"step\":10,\"type\":\"train\"}\n");
  electra::write_file_atomic(dir.state_file(), "state");
  CHECK_THROWS_AS(dir.open(options, false), std::invalid_argument);
  CHECK_NOTHROW(dir.open(options, true));
  dir.clear_outputs();
  CHECK_FALSE(fs::exists(dir.metrics_file()));
  CHECK(fs::exists(dir.state_file()));
}

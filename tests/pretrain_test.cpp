// ELECTRA pre-training: masking, the objective, the shared/tied parameters, exports, options, resume, the command.
#include <ATen/ATen.h>
#include <ATen/TensorIndexing.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "architectures/electra_model.h"
#include "architectures/predictor.h"
#include "architectures/pretraining_pair.h"
#include "common/files.h"
#include "model/checkpoint.h"
#include "model/tensor_io.h"
#include "pretrain/objective.h"
#include "pretrain/options.h"
#include "pretrain/pretrainer.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "tokenizer/tokenizer.h"
#include "train/optimizer.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;
using electra::test::contains;

namespace {

const fs::path kFixtures = fs::path(electra::test::fixtures_dir()) / "pretrain";
const fs::path kConfigs = fs::path(electra::source_dir()) / "configs" / "pretrain";

// The tiny pair over the fixture vocabulary (126 entries), dropout off unless asked.
electra::PretrainOptions tiny_options(double dropout = 0.0) {
  electra::PretrainOptions o = electra::load_pretrain_options(kConfigs / "tiny.yaml");
  o.model.hidden_dropout_prob = o.model.attention_probs_dropout_prob = dropout;
  o.vocab = kFixtures.string();
  o.data.corpus = {(kFixtures / "corpus.txt").string()};
  return o;
}

electra::ElectraPretrainingModel tiny_model(const electra::PretrainOptions& o) {
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
  const auto d = electra::discriminator_config(o, tokenizer.vocab_size(), tokenizer.pad_id());
  return electra::ElectraPretrainingModel(d, electra::generator_config(d, o.model.generator_size));
}

// Sentences of the fixture corpus, encoded as [CLS] A [SEP] examples.
std::vector<electra::PretrainingExample> fixture_examples(size_t n) {
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
  std::ifstream in(kFixtures / "corpus.txt");
  std::vector<electra::PretrainingExample> out;
  std::string line;
  while (out.size() < n && std::getline(in, line)) {
    if (line.empty()) continue;
    electra::PretrainingExample e;
    e.input_ids.push_back(static_cast<int32_t>(tokenizer.cls_id()));
    for (const auto& t : tokenizer.tokenize(line)) e.input_ids.push_back(static_cast<int32_t>(t.id));
    e.input_ids.push_back(static_cast<int32_t>(tokenizer.sep_id()));
    e.first_segment_length = static_cast<int32_t>(e.input_ids.size());
    out.push_back(std::move(e));
  }
  return out;
}

electra::MaskingOptions fixture_masking() {
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
  electra::MaskingOptions m;
  m.mask_id = tokenizer.token_to_id("[MASK]");
  m.max_predictions = 19;
  m.special_ids = {tokenizer.cls_id(), tokenizer.sep_id(), m.mask_id, tokenizer.pad_id()};
  return m;
}

// Per-example seeds of one step's draws (site 0: masks, site 1: samples), seed 1, rank 0, as the run derives them.
std::vector<uint64_t> step_seeds(int64_t step, int64_t examples, int64_t site) {
  std::vector<uint64_t> out;
  for (int64_t i = 0; i < examples; ++i) out.push_back(electra::draw_seed(1, step, i, 0, site));
  return out;
}

bool same_tensors(const electra::TensorMap& a, const electra::TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || !at::equal(t, it->second)) return false;
  }
  return true;
}

// A tensor's elements as int64 (any dtype), row-major: what a PredictInput holds.
std::vector<int64_t> long_values(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

}  // namespace

TEST_CASE("pretrain masking chooses round(15% of the tokens) positions, never [CLS]/[SEP]/[PAD]", "[pretrain]") {
  const electra::MaskingOptions m = fixture_masking();
  // Rows of lengths 2 (only specials), 10, 40 and 120 real tokens, padded to 122.
  const std::vector<int64_t> lengths = {0, 10, 40, 120};
  const int64_t t = 122;
  at::Tensor ids = at::zeros({400, t}, at::kLong), mask = at::zeros({400, t}, at::kLong);
  for (int64_t r = 0; r < 400; ++r) {
    const int64_t n = lengths[static_cast<size_t>(r % 4)];
    ids[r][0] = 2;  // [CLS]
    for (int64_t j = 1; j <= n; ++j) ids[r][j] = 5 + (r * 7 + j) % 100;
    ids[r][n + 1] = 3;  // [SEP]
    mask.narrow(1, 0, n + 2)[r].fill_(1);
  }
  at::Generator g = electra::cpu_generator(1234);
  const electra::MaskedInput out = electra::mask_tokens(ids, mask, m, g);
  const at::Tensor counts = out.positions.sum(1);
  for (int64_t r = 0; r < 400; ++r) {
    const int64_t n = lengths[static_cast<size_t>(r % 4)];
    // google's count: round(0.15 x the non-padding tokens, [CLS] and [SEP] included), at least 1, at most 19;
    // never more than the candidates (none in the row of specials only). round: 12 x .15 = 1.8 -> 2, 42 -> 6.3 -> 6.
    const int64_t expected =
        n == 0 ? 0 : std::min<int64_t>(19, std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint((n + 2) * 0.15))));
    REQUIRE(counts[r].item<int64_t>() == expected);
  }
  SECTION("never a special token or padding") {
    const at::Tensor special = ids.eq(2) | ids.eq(3) | ids.eq(0) | mask.eq(0);
    CHECK((out.positions & special).sum().item<int64_t>() == 0);
  }
  SECTION("85% of the chosen become [MASK], the rest keep their id; nothing else changes") {
    const double chosen = out.positions.sum().item<double>();
    const double masked = (out.positions & out.input_ids.eq(m.mask_id)).sum().item<double>();
    CHECK(masked / chosen == Approx(0.85).margin(0.03));
    const at::Tensor changed = out.input_ids.ne(ids);
    CHECK((changed & out.positions.logical_not()).sum().item<int64_t>() == 0);
    CHECK((changed & out.input_ids.ne(m.mask_id)).sum().item<int64_t>() == 0);
  }
  SECTION("the same seed draws the same masks; another seed others") {
    at::Generator same = electra::cpu_generator(1234), other = electra::cpu_generator(99);
    CHECK(at::equal(electra::mask_tokens(ids, mask, m, same).positions, out.positions));
    CHECK_FALSE(at::equal(electra::mask_tokens(ids, mask, m, other).positions, out.positions));
  }
}

TEST_CASE("pretrain model shares one embeddings module and ties the generator lm_head", "[pretrain]") {
  const auto o = tiny_options();
  auto model = tiny_model(o);
  CHECK(model->generator_config().hidden_size == 32);
  CHECK(model->generator_config().num_attention_heads == 1);
  CHECK(model->generator_config().intermediate_size == 128);
  const at::Tensor dw = model->discriminator->electra->embeddings->word_embeddings->weight;
  const at::Tensor gw = model->generator->electra->embeddings->word_embeddings->weight;
  CHECK(dw.unsafeGetTensorImpl() == gw.unsafeGetTensorImpl());
  int shared = 0, projections = 0;
  for (const auto& [name, p] : model->unique_named_parameters()) {
    CHECK_FALSE(contains(name, "generator.electra.embeddings."));
    shared += contains(name, "discriminator.electra.embeddings.") ? 1 : 0;
    projections += contains(name, "embeddings_project.weight") ? 1 : 0;
  }
  CHECK(shared == 5);       // word, position, token type, LayerNorm weight and bias: once
  CHECK(projections == 2);  // each encoder its own (E 64 != H 128, E 64 != H 32)
  const auto gen = model->generator_state_dict();
  CHECK(at::equal(gen.at("generator_lm_head.weight"), gen.at("electra.embeddings.word_embeddings.weight")));
  CHECK(gen.count("generator_predictions.LayerNorm.weight") == 1);
  const auto disc = model->discriminator_state_dict();
  CHECK(disc.at("discriminator_predictions.dense_prediction.weight").sizes() == at::IntArrayRef({1, 128}));
  // The optimizer sees each tensor once.
  electra::AdamW optimizer(model->unique_named_parameters(), o.optimizer);
  CHECK(optimizer.slots().size() == model->unique_named_parameters().size());
}

TEST_CASE("pretrain objective.disc_lr_scale scales the discriminator's own parameters, not the shared embeddings",
          "[pretrain]") {
  auto o = tiny_options();
  auto model = tiny_model(o);
  const std::vector<std::string> own = model->discriminator_only_parameter_names();
  const std::set<std::string> own_set(own.begin(), own.end());
  size_t discriminator_total = 0;
  for (const auto& [name, p] : model->unique_named_parameters()) {
    if (name.rfind("discriminator.", 0) == 0) ++discriminator_total;
    if (name.rfind("discriminator.electra.embeddings.", 0) == 0 || name.rfind("generator.", 0) == 0)
      CHECK(own_set.count(name) == 0);
  }
  CHECK(own.size() == discriminator_total - 5);  // all but the 5 shared embedding tensors
  CHECK(own_set.count("discriminator.electra.embeddings_project.weight") == 1);
  CHECK(own_set.count("discriminator.electra.encoder.layer.0.attention.self.query.weight") == 1);
  CHECK(own_set.count("discriminator.discriminator_predictions.dense_prediction.weight") == 1);

  SECTION("AdamW: the same step from the same start moves the scaled tensors 0.1 as far, the others the same") {
    const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
    const electra::PretrainBatch batch = electra::collate(fixture_examples(8), tokenizer.pad_id());
    const std::vector<uint64_t> mask_seeds = step_seeds(0, 8, 0), sample_seeds = step_seeds(0, 8, 1);
    const auto masked = electra::mask_examples(batch.input_ids, batch.attention_mask, fixture_masking(), mask_seeds);
    std::map<std::string, at::Tensor> start, moved[2];
    for (int scaled = 0; scaled < 2; ++scaled) {
      at::manual_seed(5);
      auto m = tiny_model(o);
      electra::AdamW optimizer(m->unique_named_parameters(), o.optimizer);
      if (scaled)
        for (const auto& name : m->discriminator_only_parameter_names()) optimizer.scale_lr(name, 0.1);
      CHECK_THROWS_AS(optimizer.scale_lr("discriminator.no.such.weight", 0.1), std::invalid_argument);
      for (const auto& [name, p] : m->unique_named_parameters()) start[name] = p.detach().clone();
      electra::electra_objective(*m, batch.input_ids, batch.attention_mask, batch.token_type_ids, masked, 50.0,
                                 sample_seeds)
          .loss.backward();
      optimizer.step(1e-3);
      for (const auto& [name, p] : m->unique_named_parameters()) moved[scaled][name] = p.detach() - start.at(name);
    }
    int compared = 0;
    for (const auto& [name, full] : moved[0]) {
      if (full.abs().max().item<double>() < 1e-5) continue;  // a tensor without a real gradient in this batch
      INFO(name);
      const double factor = own_set.count(name) ? 0.1 : 1.0;
      CHECK(at::allclose(moved[1].at(name), full * factor, 1e-3, 1e-6));  // float32 steps of about 1e-4 on weights near 1
      ++compared;
    }
    CHECK(compared > 30);
  }

  SECTION("a run applies it; 0 is refused") {
    o.train.max_steps = 1;
    o.train.batch_size = 8;
    o.train.save_every = 100;
    o.schedule.warmup_steps = 0;
    o.objective.disc_lr_scale = 1e-9;
    electra::test::TempDir dir("pretrain_disc_lr");
    o.output_dir = dir.path.string();
    at::manual_seed(static_cast<uint64_t>(o.train.seed));
    const auto initial = tiny_model(o)->discriminator_state_dict();
    std::ostringstream log;
    electra::PretrainControl control;
    control.log = &log;
    REQUIRE(electra::run_pretraining(o, control).finished);
    const auto trained = electra::read_safetensors(dir.path / "discriminator" / "model.safetensors");
    for (const char* name : {"electra.encoder.layer.0.attention.self.query.weight",
                             "discriminator_predictions.dense_prediction.weight"}) {
      INFO(name);
      CHECK((trained.at(name) - initial.at(name)).abs().max().item<double>() < 1e-9);
    }
    const double embeddings_moved = (trained.at("electra.embeddings.word_embeddings.weight") -
                                     initial.at("electra.embeddings.word_embeddings.weight"))
                                        .abs()
                                        .max()
                                        .item<double>();
    CHECK(embeddings_moved > 0.5 * o.optimizer.learning_rate);
    o.objective.disc_lr_scale = 0;
    try {
      electra::validate_pretrain_options(o);
      FAIL("no error");
    } catch (const std::invalid_argument& e) {
      CHECK(contains(e.what(), "objective.disc_lr_scale"));
    }
  }
}

TEST_CASE("pretrain objective labels exactly the replaced tokens and the loss falls on a fixed batch", "[pretrain]") {
  const auto o = tiny_options();
  at::manual_seed(3);
  auto model = tiny_model(o);
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
  const electra::PretrainBatch batch = electra::collate(fixture_examples(16), tokenizer.pad_id());
  const electra::MaskingOptions m = fixture_masking();
  electra::AdamW optimizer(model->unique_named_parameters(), o.optimizer);
  std::vector<double> losses;
  for (int step = 0; step < 30; ++step) {
    const std::vector<uint64_t> mask_seeds = step_seeds(step, 16, 0), sample_seeds = step_seeds(step, 16, 1);
    const electra::MaskedInput masked = electra::mask_examples(batch.input_ids, batch.attention_mask, m, mask_seeds);
    electra::ObjectiveResult r = electra::electra_objective(*model, batch.input_ids, batch.attention_mask,
                                                            batch.token_type_ids, masked, 50.0, sample_seeds);
    if (step == 0) {
      const at::Tensor differs = r.discriminator_input.ne(batch.input_ids);
      CHECK(at::equal(r.labels.to(at::kBool), differs));
      CHECK((differs & masked.positions.logical_not()).sum().item<int64_t>() == 0);
      CHECK(r.masked == Approx(masked.positions.sum().item<double>()));
      CHECK(r.tokens == Approx(batch.attention_mask.sum().item<double>()));
    }
    REQUIRE(std::isfinite(r.loss.item<double>()));
    losses.push_back(r.loss.item<double>());
    r.loss.backward();
    electra::clip_grad_norm(optimizer.slots(), 1.0);
    optimizer.step(1e-3);
    optimizer.zero_grad();
  }
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[27] + losses[28] + losses[29]) / 3;
  INFO("first " << first << " last " << last);
  CHECK(last < 0.8 * first);
}

TEST_CASE("pretrain sampling: temperature and disallow_correct as google-research/electra's", "[pretrain]") {
  // 6 chosen positions of 2 examples (4 + 2) over 10 tokens; the original token has by far the highest logit.
  const at::Tensor targets = at::tensor({3, 1, 4, 1, 5, 9}, at::kLong);
  at::Tensor logits = at::zeros({6, 10});
  logits.scatter_(1, targets.unsqueeze(1), 20.0);
  logits.index_put_({at::indexing::Slice(), 7}, 19.0);  // the runner-up everywhere
  const at::Tensor counts = at::tensor({4, 2}, at::kLong);
  const std::vector<uint64_t> seeds{11, 12};
  const auto draw = [&](double temperature, bool disallow) {
    return electra::sample_replacements(logits, targets, counts, seeds, electra::SamplingOptions{temperature, disallow});
  };
  CHECK(at::equal(draw(1e-3, false), targets));                   // near 0: the argmax, the original
  CHECK(at::equal(draw(1e-3, true), at::full({6}, 7, at::kLong)));  // the original forbidden: the runner-up
  for (int i = 0; i < 5; ++i) {
    const std::vector<uint64_t> other{static_cast<uint64_t>(100 + i), static_cast<uint64_t>(200 + i)};
    const at::Tensor drawn = electra::sample_replacements(logits, targets, counts, other,
                                                          electra::SamplingOptions{100.0, true});
    CHECK(drawn.ne(targets).all().item<bool>());  // disallow_correct: never the original, even when flat
  }
  // At a high temperature the distribution is nearly flat: over 60 draws, more than 3 distinct tokens appear.
  std::set<int64_t> seen;
  for (uint64_t i = 0; i < 10; ++i) {
    const at::Tensor drawn = electra::sample_replacements(logits, targets, counts, {i, i + 50},
                                                          electra::SamplingOptions{100.0, false});
    for (int64_t j = 0; j < drawn.size(0); ++j) seen.insert(drawn[j].item<int64_t>());
  }
  CHECK(seen.size() > 3);
  // Same seeds, same draws.
  CHECK(at::equal(draw(1.0, false), draw(1.0, false)));
  // The draws follow the softmax: 4,000 rows of probabilities 0.1, 0.2, 0.3, 0.4 (and 0 for the 6 others), each
  // token's share within 0.025 of its probability (5 standard deviations or more).
  const at::Tensor probs = at::tensor({0.1, 0.2, 0.3, 0.4}, at::kFloat);
  at::Tensor many = at::full({4000, 10}, -std::numeric_limits<float>::infinity());
  many.narrow(1, 2, 4).copy_(probs.log().expand({4000, 4}));
  const at::Tensor drawn = electra::sample_replacements(many, at::zeros({4000}, at::kLong),
                                                        at::tensor({2500, 1500}, at::kLong), {5, 6},
                                                        electra::SamplingOptions{1.0, false});
  const at::Tensor share = at::bincount(drawn, {}, 10).to(at::kDouble) / 4000.0;
  INFO(share);
  for (int64_t t = 0; t < 10; ++t) {
    const double expected = t >= 2 && t < 6 ? 0.1 * static_cast<double>(t - 1) : 0.0;
    CHECK(std::abs(share[t].item<double>() - expected) < 0.025);
  }
}

TEST_CASE("pretrain exports load as the bare encoder with the same outputs; config.json round trips", "[pretrain]") {
  const auto o = tiny_options();
  auto model = tiny_model(o);
  model->eval();
  electra::test::TempDir dir("pretrain_export");
  electra::save_pretraining_pair(*model, dir.path, kFixtures);
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
  const electra::PretrainBatch batch = electra::collate(fixture_examples(4), tokenizer.pad_id());
  for (const std::string which : {"discriminator", "generator"}) {
    const auto config = electra::ElectraConfig::from_file(dir.path / which / "config.json");
    CHECK(config.architecture == (which == "generator" ? electra::Architecture::masked_lm
                                                       : electra::Architecture::pretraining));
    CHECK(config.hidden_size == (which == "generator" ? 32 : 128));
    CHECK(config.vocab_size == tokenizer.vocab_size());
    electra::LoadReport report;
    const electra::ElectraModel loaded = electra::load_pretrained(dir.path / which, {}, &report);
    CHECK(loaded.config().architecture == electra::Architecture::model);
    CHECK_FALSE(report.ignored.empty());
    for (const auto& key : report.ignored)
      CHECK((contains(key, "discriminator_predictions.") || contains(key, "generator_")));
    CHECK(fs::exists(dir.path / which / "vocab.txt"));
    at::NoGradGuard no_grad;
    const at::Tensor expected = which == "generator"
        ? model->generator->electra(batch.input_ids, batch.attention_mask, batch.token_type_ids)
        : model->discriminator->electra(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    const at::Tensor got = loaded.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids).last_hidden_state;
    CHECK(at::allclose(got, expected, 1e-5, 1e-6));
  }
  const auto gen = electra::read_safetensors(dir.path / "generator" / "model.safetensors");
  CHECK(at::equal(gen.at("generator_lm_head.weight"), gen.at("electra.embeddings.word_embeddings.weight")));
}

TEST_CASE("predict runs the exported pre-training heads: replaced-token logits and the masked LM's top k", "[pretrain][predict]") {
  auto model = tiny_model(tiny_options());
  model->eval();
  electra::test::TempDir dir("pretrain_predict");
  electra::save_pretraining_pair(*model, dir.path, kFixtures);
  const electra::Tokenizer tokenizer = electra::Tokenizer::from_dir(kFixtures);
  const electra::PretrainBatch batch = electra::collate(fixture_examples(3), tokenizer.pad_id());
  std::vector<electra::PredictInput> inputs;  // each example without its padding
  for (int64_t b = 0; b < batch.input_ids.size(0); ++b) {
    const int64_t n = batch.attention_mask[b].sum().item<int64_t>();
    auto row = [&](const at::Tensor& t) { return long_values(t[b].narrow(0, 0, n)); };
    inputs.push_back({row(batch.input_ids), row(batch.attention_mask), row(batch.token_type_ids), {}});
  }
  std::vector<const electra::PredictInput*> pointers;
  for (const auto& in : inputs) pointers.push_back(&in);
  at::NoGradGuard no_grad;

  SECTION("the discriminator: ElectraForPreTraining's logits per token, and their sigmoid") {
    const electra::Predictor predictor(dir.path / "discriminator", {});
    CHECK(predictor.config().architecture == electra::Architecture::pretraining);
    const auto outputs = predictor.run(pointers);
    const at::Tensor expected = model->discriminator(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    for (size_t b = 0; b < inputs.size(); ++b) {
      const auto n = static_cast<int64_t>(inputs[b].input_ids.size());
      REQUIRE(static_cast<int64_t>(outputs[b].logits.size()) == n);
      const at::Tensor got = at::tensor(outputs[b].logits);
      CHECK(at::allclose(got, expected[b].narrow(0, 0, n), 1e-5, 1e-5));
      CHECK(at::allclose(at::tensor(outputs[b].probabilities), at::sigmoid(got), 1e-6, 1e-7));
    }
  }
  SECTION("the generator: ElectraForMaskedLM's k best ids per position, their logits and softmax") {
    const int64_t k = 4;
    const electra::Predictor predictor(dir.path / "generator", {"cpu", k});
    CHECK(predictor.config().architecture == electra::Architecture::masked_lm);
    const auto outputs = predictor.run(pointers);
    const at::Tensor all = model->generator(batch.input_ids, batch.attention_mask, batch.token_type_ids,
                                            batch.attention_mask.to(at::kBool));  // [real positions, V]
    int64_t at_row = 0;
    for (size_t b = 0; b < inputs.size(); ++b) {
      const auto n = static_cast<int64_t>(inputs[b].input_ids.size());
      const at::Tensor logits = all.narrow(0, at_row, n);
      at_row += n;
      const auto [top_logits, top_ids] = logits.topk(k, 1);
      REQUIRE(static_cast<int64_t>(outputs[b].top_ids.size()) == n * k);
      CHECK(at::equal(at::tensor(outputs[b].top_ids).view({n, k}), top_ids));
      CHECK(at::allclose(at::tensor(outputs[b].top_logits).view({n, k}), top_logits, 1e-5, 1e-5));
      CHECK(at::allclose(at::tensor(outputs[b].top_probabilities).view({n, k}),
                         at::softmax(logits, 1).gather(1, top_ids), 1e-5, 1e-7));
    }
  }
  SECTION("electra predict writes them as JSON lines") {
    std::string lines;
    for (const auto& in : inputs) lines += json{{"input_ids", in.input_ids}}.dump() + "\n";
    lines += "{\"text\": \"the sea holds a ball\"}\n";
    electra::write_file_atomic(dir.path / "in.jsonl", lines);
    const auto key_order = [](const std::string& line) {
      std::vector<std::string> keys;
      const auto parsed = nlohmann::ordered_json::parse(line);
      for (const auto& item : parsed.items()) keys.push_back(item.key());
      return keys;
    };
    auto r = electra::test::run_electra(
        fmt::format("predict --model '{}' --input '{}' --top-k 3", (dir.path / "generator").string(),
                    (dir.path / "in.jsonl").string()));
    REQUIRE(r.status == 0);
    std::istringstream out(r.out);
    std::string line;
    int count = 0;
    while (std::getline(out, line)) {
      ++count;
      CHECK(key_order(line) == std::vector<std::string>{"top_ids", "top_tokens", "top_probabilities", "top_logits"});
      const json j = json::parse(line);
      REQUIRE(j["top_ids"][0].size() == 3);
      CHECK(j["top_tokens"][1][0] == tokenizer.id_to_token(j["top_ids"][1][0].get<int64_t>()));
      CHECK(j["top_probabilities"][1][0].get<double>() >= j["top_probabilities"][1][2].get<double>());
    }
    CHECK(count == 4);
    r = electra::test::run_electra(fmt::format("predict --model '{}' --input '{}'",
                                               (dir.path / "discriminator").string(), (dir.path / "in.jsonl").string()));
    REQUIRE(r.status == 0);
    std::istringstream disc(r.out);
    REQUIRE(std::getline(disc, line));
    CHECK(key_order(line) == std::vector<std::string>{"replaced", "probabilities", "logits"});
    const json j = json::parse(line);
    REQUIRE(j["replaced"].size() == inputs[0].input_ids.size());
    for (size_t i = 0; i < j["logits"].size(); ++i)
      CHECK(j["replaced"][i].get<bool>() == (j["logits"][i].get<double>() > 0));
  }
  SECTION("labels give the loss: the objective's on the same masks and replacements, and transformers' formula") {
    const electra::PretrainBatch one = electra::collate(fixture_examples(1), tokenizer.pad_id());
    const electra::MaskedInput masked =
        electra::mask_examples(one.input_ids, one.attention_mask, fixture_masking(), {11});
    const electra::ObjectiveResult r = electra::electra_objective(*model, one.input_ids, one.attention_mask,
                                                                  one.token_type_ids, masked, 50.0, {12});
    REQUIRE(r.labels.sum().item<double>() > 0);  // this seed replaces at least one token
    const auto ids = long_values;
    const auto mask = ids(one.attention_mask[0]), types = ids(one.token_type_ids[0]);
    const electra::PredictInput generator_line{ids(masked.input_ids[0]), mask, types,
                                               ids(one.input_ids[0].masked_fill(~masked.positions[0], -100))};
    const electra::PredictInput discriminator_line{ids(r.discriminator_input[0]), mask, types, ids(r.labels[0])};
    const auto generated = electra::Predictor(dir.path / "generator", {}).run({&generator_line});
    const auto judged = electra::Predictor(dir.path / "discriminator", {}).run({&discriminator_line});
    REQUIRE(generated[0].loss);
    REQUIRE(judged[0].loss);
    CHECK(*generated[0].loss == Approx(r.mlm_loss.item<double>()).epsilon(1e-5));
    CHECK(*judged[0].loss == Approx(r.rtd_loss.item<double>()).epsilon(1e-5));
    // Written out: mean cross-entropy at the scored positions; mean BCE with logits over the tokens.
    const at::Tensor logits = model->generator(masked.input_ids, one.attention_mask, one.token_type_ids, masked.positions);
    const at::Tensor targets = one.input_ids.index({masked.positions});
    CHECK(*generated[0].loss == Approx((-at::log_softmax(logits, 1).gather(1, targets.unsqueeze(1))).mean().item<double>()).epsilon(1e-5));
    double bce = 0;
    for (size_t i = 0; i < judged[0].logits.size(); ++i) {
      const double x = judged[0].logits[i], y = static_cast<double>(discriminator_line.labels[i]);
      bce += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
    }
    CHECK(*judged[0].loss == Approx(bce / static_cast<double>(judged[0].logits.size())).epsilon(1e-5));
    // The command writes "loss" last; a line whose labels do not fit is refused in place, naming the reason.
    const json gen_line = {{"input_ids", generator_line.input_ids}, {"labels", generator_line.labels}};
    std::vector<int64_t> unscored(generator_line.labels.size(), -100), wrong_length{0, 1};
    electra::write_file_atomic(dir.path / "labels.jsonl",
                               gen_line.dump() + "\n" +
                                   json{{"input_ids", generator_line.input_ids}, {"labels", unscored}}.dump() + "\n" +
                                   json{{"input_ids", generator_line.input_ids}, {"labels", wrong_length}}.dump() + "\n");
    const auto out = electra::test::run_electra(fmt::format("predict --model '{}' --input '{}'",
                                                            (dir.path / "generator").string(),
                                                            (dir.path / "labels.jsonl").string()));
    CHECK(out.status != 0);
    std::istringstream lines(out.out);
    std::string line;
    REQUIRE(std::getline(lines, line));
    const auto parsed = nlohmann::ordered_json::parse(line);
    CHECK(std::prev(parsed.end()).key() == "loss");
    CHECK(parsed["loss"].get<double>() == Approx(*generated[0].loss).epsilon(1e-6));
    REQUIRE(std::getline(lines, line));
    CHECK(contains(line, "line 2: labels: every entry is -100"));
    REQUIRE(std::getline(lines, line));
    CHECK(contains(line, "line 3: labels has 2 entries"));
    electra::write_file_atomic(dir.path / "labels.jsonl",
                               json{{"input_ids", discriminator_line.input_ids},
                                    {"labels", std::vector<int64_t>(discriminator_line.labels.size(), 2)}}.dump() + "\n");
    const auto bad = electra::test::run_electra(fmt::format("predict --model '{}' --input '{}'",
                                                            (dir.path / "discriminator").string(),
                                                            (dir.path / "labels.jsonl").string()));
    CHECK(bad.status != 0);
    CHECK(contains(bad.out, "labels: 2 is not 0 (original) or 1 (replaced)"));
  }
  SECTION("bad heads and options are refused by file, key or flag") {
    auto refused = [&](const fs::path& model_dir, const std::string& extra, const std::vector<std::string>& words) {
      electra::write_file_atomic(dir.path / "one.jsonl", json{{"input_ids", inputs[0].input_ids}}.dump() + "\n");
      const auto r = electra::test::run_electra(fmt::format("predict --model '{}' --input '{}' {}", model_dir.string(),
                                                            (dir.path / "one.jsonl").string(), extra));
      CHECK(r.status != 0);
      for (const auto& w : words) CHECK(contains(r.err, w));
    };
    refused(dir.path / "generator", "--top-k 127", {"--top-k", "127", "1..126"});
    refused(dir.path / "discriminator", "--top-k 2", {"--top-k", "ElectraForPreTraining"});
    const fs::path weights = dir.path / "discriminator" / "model.safetensors";
    auto tensors = electra::read_safetensors(weights);
    tensors.erase("discriminator_predictions.dense_prediction.bias");
    electra::write_safetensors(weights, tensors);
    refused(dir.path / "discriminator", "", {"model.safetensors", "discriminator_predictions.dense_prediction.bias"});
    const fs::path generator = dir.path / "generator" / "model.safetensors";
    tensors = electra::read_safetensors(generator);
    tensors["generator_lm_head.weight"] = tensors["generator_lm_head.weight"] * 2;
    electra::write_safetensors(generator, tensors);
    refused(dir.path / "generator", "", {"generator_lm_head.weight", "untied"});
  }
}

TEST_CASE("pretrain options: YAML, --set, unknown keys, the papers' configs", "[pretrain]") {
  const auto small = electra::load_pretrain_options(kConfigs / "small.yaml");
  CHECK(small.model.hidden_size == 256);
  CHECK(small.optimizer.learning_rate == Approx(5e-4));
  CHECK(small.train.max_steps == 1000000);
  CHECK(electra::max_predictions_per_seq(small) == 19);
  const auto base = electra::load_pretrain_options(kConfigs / "base.yaml", {"train.batch_size=64"});
  CHECK(base.train.batch_size == 64);
  const auto d = electra::discriminator_config(base, 30522, 0);
  const auto g = electra::generator_config(d, base.model.generator_size);
  CHECK(g.hidden_size == 256);
  CHECK(g.num_attention_heads == 4);
  CHECK(g.intermediate_size == 1024);
  CHECK(g.embedding_size == 768);
  const auto again = electra::load_pretrain_options({}, {});
  electra::test::TempDir dir("pretrain_options");
  electra::write_file_atomic(dir.path / "dump.yaml", electra::to_yaml(small));
  CHECK(electra::to_yaml(electra::load_pretrain_options(dir.path / "dump.yaml")) == electra::to_yaml(small));
  electra::write_file_atomic(dir.path / "bad.yaml", "train:\n  max_step: 5\n");
  try {
    electra::load_pretrain_options(dir.path / "bad.yaml");
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(contains(e.what(), "bad.yaml:2"));
    CHECK(contains(e.what(), "train.max_step"));
  }
  CHECK_THROWS_AS(electra::load_pretrain_options({}, {"objective.mask_prob=x"}), std::invalid_argument);
  (void)again;
}

// The generator must learn to read a masked token off its neighbours, through attention and the position embeddings:
// each line alternates two words of the fixture vocabulary ("a b a b ..."), so a masked word is the one two places
// away. Unigram guessing gets about 1 in 120 and the line's bag of two words about half; the run must get most.
TEST_CASE("pretrain: the generator learns a masked token from its neighbours", "[pretrain]") {
  electra::test::TempDir dir("pretrain_context");
  std::vector<std::string> words;
  {
    std::ifstream in(kFixtures / "vocab.txt");
    for (std::string w; std::getline(in, w);)
      if (!w.empty() && w.front() != '[' && w.size() > 1 && w.rfind("##", 0) != 0) words.push_back(w);
  }
  REQUIRE(words.size() > 50);
  std::mt19937 rng(7);
  {
    std::ofstream corpus(dir.path / "pairs.txt");
    for (int line = 0; line < 2000; ++line) {
      const size_t a = rng() % words.size(), b = (a + 1 + rng() % (words.size() - 1)) % words.size();
      for (int i = 0; i < 24; ++i) corpus << (i ? " " : "") << words[i % 2 ? b : a];
      corpus << "\n";
    }
  }
  auto o = tiny_options();
  o.data.corpus = {(dir.path / "pairs.txt").string()};
  o.data.document_format = "line";
  o.data.max_seq_length = 32;
  o.objective.disc_weight = 0;          // the masked LM alone
  o.objective.mask_token_prob = 1.0;    // every chosen token [MASK]: generator_accuracy is the masked positions'
  o.model.generator_size = 1.0;
  o.model.embedding_size = 64;
  o.model.hidden_size = 64;
  o.model.intermediate_size = 128;
  o.optimizer.learning_rate = 3e-3;
  o.schedule.warmup_steps = 20;
  o.train.max_steps = 200;
  o.train.batch_size = 32;
  o.train.logging_every = 50;
  o.train.save_every = 1000;
  o.output_dir = (dir.path / "run").string();
  std::ostringstream log;
  electra::PretrainControl control;
  control.log = &log;
  REQUIRE(electra::run_pretraining(o, control).finished);
  std::ifstream metrics(dir.path / "run" / "metrics.jsonl");
  double first = -1, last = -1;
  for (std::string l; std::getline(metrics, l);) {
    last = json::parse(l).at("generator_accuracy").get<double>();
    if (first < 0) first = last;
  }
  INFO(log.str());
  CHECK(first < 0.2);
  CHECK(last > 0.8);
}

TEST_CASE("pretrain a stopped and resumed run ends with the weights of an uninterrupted one", "[pretrain]") {
  auto o = tiny_options(0.1);  // dropout on: its draws are seeded per step too
  o.train.max_steps = 6;
  o.train.batch_size = 8;
  o.train.logging_every = 2;
  o.train.save_every = 100;
  electra::test::TempDir whole("pretrain_whole"), parts("pretrain_parts");
  std::ostringstream log;
  electra::PretrainControl control;
  control.log = &log;
  o.output_dir = whole.path.string();
  const auto outcome = electra::run_pretraining(o, control);
  CHECK(outcome.finished);
  CHECK(outcome.steps == 6);
  o.output_dir = parts.path.string();
  control.stop_after_steps = 3;
  CHECK_FALSE(electra::run_pretraining(o, control).finished);
  // A line of a step after the saved state (the run went on before it was killed) and a line cut short by the kill:
  // the resumed run drops both and logs those steps once.
  std::ofstream(parts.path / "metrics.jsonl", std::ios::app) << "{\"step\":4,\"loss\":1.0}\n{\"step\":5,\"lo";
  control.stop_after_steps = 0;
  control.resume = true;
  CHECK(electra::run_pretraining(o, control).steps == 6);
  {
    std::ifstream resumed(parts.path / "metrics.jsonl");
    std::vector<int64_t> steps;
    for (std::string l; std::getline(resumed, l);) steps.push_back(json::parse(l).at("step").get<int64_t>());
    CHECK(steps == std::vector<int64_t>{2, 3, 4, 6});  // 3: the line written when the first part stopped
  }
  {
    // Resuming the finished run says so and changes no file.
    std::map<std::string, std::string> before;
    for (const auto& f : electra::list_files_recursive(parts.path)) before[f.string()] = electra::read_file(f);
    std::ostringstream again_log;
    control.log = &again_log;
    const auto again = electra::run_pretraining(o, control);
    control.log = &log;
    CHECK(again.already_finished);
    CHECK(again.steps == 6);
    CHECK(again_log.str().find("is finished (6 steps") != std::string::npos);
    std::map<std::string, std::string> after;
    for (const auto& f : electra::list_files_recursive(parts.path)) after[f.string()] = electra::read_file(f);
    CHECK(after == before);
  }
  {
    // A new run in a folder whose last run died before its first save starts a clean metrics.jsonl.
    electra::test::TempDir died("pretrain_died");
    std::ofstream(died.path / "metrics.jsonl") << "{\"step\":2,\"loss\":1.0}\n{\"step\":4,\"loss\":1.0}\n";
    auto fresh = o;
    fresh.output_dir = died.path.string();
    control.resume = false;
    REQUIRE(electra::run_pretraining(fresh, control).finished);
    std::ifstream lines(died.path / "metrics.jsonl");
    std::vector<int64_t> steps;
    for (std::string l; std::getline(lines, l);) steps.push_back(json::parse(l).at("step").get<int64_t>());
    CHECK(steps == std::vector<int64_t>{2, 4, 6});
    control.resume = true;
  }
  for (const char* which : {"discriminator", "generator"}) {
    const auto a = electra::read_safetensors(whole.path / which / "model.safetensors");
    const auto b = electra::read_safetensors(parts.path / which / "model.safetensors");
    CHECK(same_tensors(a, b));
  }
  // metrics.jsonl: a line every 2 steps with the objective's figures.
  std::ifstream metrics(whole.path / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    const json j = json::parse(line);
    CHECK(std::isfinite(j.at("loss").get<double>()));
    CHECK(j.contains("generator_accuracy"));
    CHECK(j.contains("discriminator_recall"));
    CHECK(j.at("tokens_per_second").get<double>() > 0);
    ++lines;
  }
  CHECK(lines == 3);
}

TEST_CASE("pretrain on 2 ranks ends with the weights of 1 process (dropout off)", "[pretrain]") {
  electra::test::TempDir dir("pretrain_ranks");
  auto run = [&](const std::string& name, const std::string& extra) {
    const auto r = electra::test::run_electra(fmt::format(
        "--threads 1 pretrain --config '{}' --vocab '{}' --corpus '{}' --output-dir '{}' --set train.max_steps=3 "
        "--set train.batch_size=8 --set model.hidden_dropout_prob=0 --set model.attention_probs_dropout_prob=0 "
        "--set optimizer.learning_rate=1e-3 --set schedule.warmup_steps=0 {}",
        (kConfigs / "tiny.yaml").string(), kFixtures.string(), (kFixtures / "corpus.txt").string(),
        (dir.path / name).string(), extra));
    INFO(r.output);
    REQUIRE(r.status == 0);
    return electra::read_safetensors(dir.path / name / "discriminator" / "model.safetensors");
  };
  const auto one = run("one", "");
  const auto two = run("two", "--nproc 2");
  const auto other_seed = run("seed", "--set train.seed=43 --set data.shuffle_buffer=1");
  double ranks_diff = 0, seed_diff = 0;
  for (const auto& [name, t] : one) {
    ranks_diff = std::max(ranks_diff, (t - two.at(name)).abs().max().item<double>());
    seed_diff = std::max(seed_diff, (t - other_seed.at(name)).abs().max().item<double>());
  }
  INFO("max |1 rank - 2 ranks| " << ranks_diff << ", another seed " << seed_diff);
  CHECK(ranks_diff < 1e-5);
  CHECK(seed_diff > 1e-3);
}

TEST_CASE("pretrain command: end to end on the tiny config, and its errors", "[pretrain]") {
  electra::test::TempDir dir("pretrain_cli");
  const std::string common = fmt::format("pretrain --config '{}' --vocab '{}'", (kConfigs / "tiny.yaml").string(),
                                         kFixtures.string());
  SECTION("a run writes both exports; finetune-style loading works") {
    const auto r = electra::test::run_electra(fmt::format(
        "{} --corpus '{}' --output-dir '{}' --set train.max_steps=4 --set train.batch_size=8 --set train.logging_every=2",
        common, (kFixtures / "corpus.txt").string(), (dir.path / "run").string()));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "4 steps"));
    const auto model = electra::load_pretrained(dir.path / "run" / "discriminator");
    CHECK(model.config().hidden_size == 128);
    CHECK(fs::exists(dir.path / "run" / "generator" / "config.json"));
    CHECK(fs::exists(dir.path / "run" / "state" / "latest.json"));
    CHECK(fs::exists(dir.path / "run" / "config.yaml"));
  }
  SECTION("--prepare writes shards that a run then reads; another run into the same folder is refused") {
    const auto prep = electra::test::run_electra(fmt::format("{} --prepare '{}' --corpus '{}'", common,
                                                             (dir.path / "shards").string(),
                                                             (kFixtures / "corpus.txt").string()));
    INFO(prep.output);
    REQUIRE(prep.status == 0);
    CHECK(fs::exists(dir.path / "shards" / "shards.json"));
    const std::string run = fmt::format("{} --corpus '{}' --output-dir '{}' --set train.max_steps=2 --set train.batch_size=4",
                                        common, (dir.path / "shards").string(), (dir.path / "run").string());
    const auto r = electra::test::run_electra(run);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(fs::exists(dir.path / "run" / "discriminator" / "model.safetensors"));
    // The same command again resumes, and a finished run is left as it is; other options are refused.
    const auto same = electra::test::run_electra(run);
    CHECK(same.status == 0);
    CHECK(contains(same.err, "is finished (2 steps"));
    const auto again = electra::test::run_electra(run + " --set train.batch_size=8");
    CHECK(again.status != 0);
    CHECK(contains(again.err, "train.batch_size: 4 -> 8"));
    CHECK(contains(again.err, "--resume"));
  }
  SECTION("--nproc 2: two ranks train, rank 0 alone writes the run") {
    const auto r = electra::test::run_electra(fmt::format(
        "{} --corpus '{}' --output-dir '{}' --set train.max_steps=2 --set train.batch_size=8 --nproc 2", common,
        (kFixtures / "corpus.txt").string(), (dir.path / "dp").string()));
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(fs::exists(dir.path / "dp" / "generator" / "model.safetensors"));
    const json record = json::parse(electra::read_file(dir.path / "dp" / "state" / "latest.json"));
    CHECK(record.at("step") == 2);
  }
  SECTION("missing corpus") {
    const auto r = electra::test::run_electra(fmt::format("{} --output-dir '{}'", common, (dir.path / "x").string()));
    CHECK(r.status != 0);
    CHECK(contains(r.err, "--corpus"));
  }
  SECTION("a corpus file that does not exist") {
    const auto r = electra::test::run_electra(fmt::format("{} --corpus '{}' --output-dir '{}'", common,
                                                          (dir.path / "nope.txt").string(), (dir.path / "x").string()));
    CHECK(r.status != 0);
    CHECK(contains(r.err, "nope.txt"));
  }
  SECTION("--stop-after 0 is refused, not taken as \"no stop\" (which would run the whole schedule)") {
    const auto r = electra::test::run_electra(fmt::format("{} --corpus '{}' --output-dir '{}' --stop-after 0", common,
                                                          (kFixtures / "corpus.txt").string(),
                                                          (dir.path / "zero").string()));
    CHECK(r.status != 0);
    CHECK(contains(r.err, "--stop-after"));
    CHECK_FALSE(fs::exists(dir.path / "zero" / "discriminator"));
  }
  SECTION("an unknown YAML key names the file and key") {
    electra::write_file_atomic(dir.path / "bad.yaml", "model:\n  hiden_size: 5\n");
    const auto r = electra::test::run_electra(
        fmt::format("pretrain --config '{}' --dump-config", (dir.path / "bad.yaml").string()));
    CHECK(r.status != 0);
    CHECK(contains(r.err, "bad.yaml:2"));
    CHECK(contains(r.err, "model.hiden_size"));
  }
  SECTION("--dump-config prints the resolved keys") {
    const auto r = electra::test::run_electra(fmt::format("{} --set objective.disc_weight=10 --dump-config", common));
    CHECK(r.status == 0);
    CHECK(contains(r.out, "disc_weight: 10"));
  }
}

TEST_CASE("pretrain train.dump_first_step writes the initial pair, the first step's inputs, losses and gradients",
          "[pretrain]") {
  auto o = tiny_options();
  o.train.max_steps = 2;
  o.train.batch_size = 8;
  o.train.gradient_accumulation_steps = 2;
  o.train.logging_every = 1;
  o.train.dump_first_step = true;
  electra::test::TempDir dir("pretrain_dump_first");
  o.output_dir = dir.path.string();
  std::ostringstream log;
  electra::PretrainControl control;
  control.log = &log;
  REQUIRE(electra::run_pretraining(o, control).finished);
  // initial/: the pair as it was before step 1 (the exports at the end differ from it).
  for (const char* which : {"discriminator", "generator"}) {
    CHECK(fs::exists(dir.path / "initial" / which / "model.safetensors"));
    CHECK_FALSE(same_tensors(electra::read_safetensors(dir.path / "initial" / which / "model.safetensors"),
                             electra::read_safetensors(dir.path / which / "model.safetensors")));
  }
  const auto t = electra::read_safetensors(dir.path / "first_step.safetensors");
  // The losses are step 1's metrics.jsonl line.
  std::ifstream metrics(dir.path / "metrics.jsonl");
  std::string line;
  REQUIRE(std::getline(metrics, line));
  const json first = json::parse(line);
  CHECK(t.at("loss").item<double>() == Approx(first.at("loss").get<double>()).epsilon(1e-12));
  CHECK(t.at("mlm_loss").item<double>() == Approx(first.at("mlm_loss").get<double>()).epsilon(1e-12));
  CHECK(t.at("rtd_loss").item<double>() == Approx(first.at("rtd_loss").get<double>()).epsilon(1e-12));
  for (const char* m : {"0", "1"}) {
    const auto& ids = t.at(std::string("input_ids.") + m);
    const auto positions = t.at(std::string("positions.") + m).to(at::kBool);
    const auto& disc = t.at(std::string("discriminator_input.") + m);
    CHECK(ids.size(0) == 4);
    CHECK(positions.sum().item<int64_t>() > 0);
    // The discriminator sees the originals outside the chosen positions.
    CHECK(at::equal(disc.masked_select(positions.logical_not()), ids.masked_select(positions.logical_not())));
  }
  // One gradient per trainable tensor, the shared embeddings once under the discriminator's name.
  int grads = 0;
  for (const auto& [name, tensor] : t) grads += name.rfind("grad.", 0) == 0 ? 1 : 0;
  CHECK(grads == static_cast<int>(tiny_model(o)->unique_named_parameters().size()));
  CHECK(t.count("grad.discriminator.electra.embeddings.word_embeddings.weight") == 1);
  CHECK(t.count("grad.generator.electra.embeddings.word_embeddings.weight") == 0);
  CHECK(t.at("grad.discriminator.electra.embeddings.word_embeddings.weight").abs().sum().item<double>() > 0);
}

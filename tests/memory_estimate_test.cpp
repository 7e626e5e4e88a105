// The memory estimate's terms (train/memory_estimate.h) against a hand count for a small config.
#include <stdexcept>
#include <string>

#include "model/config.h"
#include "tests/catch.h"
#include "tests/support.h"
#include "train/memory_estimate.h"

using electra::test::contains;

namespace {

// vocab 100, E 8, H 16, 2 layers, 2 heads, I 32, 32 positions, two labels; no dropout.
electra::ElectraConfig small_config() {
  electra::ElectraConfig c;
  c.vocab_size = 100;
  c.embedding_size = 8;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 32;
  c.hidden_dropout_prob = 0;
  c.attention_probs_dropout_prob = 0;
  c.architecture = electra::Architecture::sequence_classification;
  c.id2label = electra::default_labels(2);
  return c;
}

}  // namespace

TEST_CASE("memory estimate terms match a hand count", "[memory]") {
  electra::ElectraConfig c = small_config();
  // Parameters: embeddings (100 + 32 + 2) * 8 + LayerNorm 16, projection 8 * 16 + 16, per layer 4 (16 * 16 + 16)
  // + 32 + (16 * 32 + 32) + (32 * 16 + 16) + 32 = 2224, head 16 * 16 + 16 + 16 * 2 + 2: 5986.
  REQUIRE(electra::fine_tune_parameter_count(c) == 5986);
  const electra::MemoryEstimate e = electra::fine_tune_memory(c, 4, 8, 10, false, 1000);
  CHECK(e.baseline == 1000);
  CHECK(e.parameters == 4 * 5986);
  CHECK(e.gradients == 4 * 5986);
  CHECK(e.optimizer_state == 8 * 5986);
  CHECK(e.step_copies == 8 * 5986);
  CHECK(e.autocast_copies == 0);
  // Train, N = 4 x 10 tokens, scores 4 x 2 x 10^2: per layer 8 N H + 2 N I + scores = 8480, twice; embeddings
  // 4 N E + N H = 1920; the backward's 2 scores + 2 N I + 4 N H = 6720: 25600 floats, x 4 bytes x 1.25.
  CHECK(e.train_activations == Approx(25600 * 5.0));
  // Eval, N = 80, scores 1600: 5 N H + 2 scores + 2 N I + 2 N E = 16000 floats.
  CHECK(e.eval_activations == Approx(16000 * 5.0));
  CHECK(e.saving == 24 * 5986);
  // Here a save outweighs a step: 24 x 5986 + 0.8 x 128000 against 8 x 5986 + 128000.
  CHECK(e.peak() == Approx(1000 + e.runtime + 16 * 5986 + 24 * 5986 + 0.8 * 25600 * 5.0));
  // 100 times the batch: the step is the larger phase.
  const auto big = electra::fine_tune_memory(c, 400, 8, 10, false, 0);
  CHECK(big.train_activations == Approx(100 * 25600 * 5.0));
  CHECK(big.added() == Approx(big.runtime + 16 * 5986 + 8 * 5986 + 100 * 25600 * 5.0));
  SECTION("dropout keeps its masks: 2 N H and 2 scores more per layer") {
    c.hidden_dropout_prob = 0.1;
    c.attention_probs_dropout_prob = 0.1;
    CHECK(electra::fine_tune_memory(c, 4, 8, 10, false, 0).train_activations == Approx((25600 + 2 * 2880) * 5.0));
  }
  SECTION("bf16 autocast: activations at 3 bytes a float, and bf16 copies of the weights") {
    const auto bf16 = electra::fine_tune_memory(c, 4, 8, 10, true, 0);
    CHECK(bf16.train_activations == Approx(25600 * 3.0 * 1.25));
    CHECK(bf16.autocast_copies == 2 * 5986);
  }
}

TEST_CASE("memory estimate of a run caps batches and lengths at the data, and its refusal names the keys",
          "[memory]") {
  const electra::ElectraConfig c = small_config();
  electra::ExperimentOptions o;
  o.data.max_seq_length = 10;
  o.train.batch_size = 1000;
  o.train.eval_batch_size = 8;
  const auto uncapped = electra::fine_tune_estimate(c, o, 1000, nullptr, 0);
  CHECK(uncapped.train_activations == Approx(electra::encoder_activation_bytes(c, 1000, 10, true, false)));
  electra::DataShape data;
  data.train_features = 4;
  data.train_length = 7;
  data.eval_features = 100;
  data.eval_length = 5;
  const auto capped = electra::fine_tune_estimate(c, o, 1000, &data, 0);
  CHECK(capped.train_activations == Approx(electra::encoder_activation_bytes(c, 4, 7, true, false)));
  CHECK(capped.eval_activations == Approx(electra::encoder_activation_bytes(c, 8, 5, false, false)));

  electra::MemoryHeadroom room;
  room.bytes = static_cast<int64_t>(uncapped.added()) - 1;
  room.source = "RLIMIT_AS";
  room.detail = "RLIMIT_AS 1.00 GB - 0.50 GB mapped";
  try {
    electra::check_memory(uncapped, room, "fine-tuning");
    FAIL("no refusal");
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    CHECK(contains(m, "memory: fine-tuning needs about "));
    CHECK(contains(m, "train activations: train.batch_size=1000, train.gradient_accumulation_steps=1, "
                      "data.max_seq_length=10"));
    CHECK(contains(m, "(RLIMIT_AS 1.00 GB - 0.50 GB mapped)"));
    CHECK(contains(m, "--force"));
    CHECK(m.find('\n') == std::string::npos);
  }
  room.bytes = static_cast<int64_t>(uncapped.added()) + 1;
  CHECK_NOTHROW(electra::check_memory(uncapped, room, "fine-tuning"));
  room.bytes = -1;  // no limit found
  CHECK_NOTHROW(electra::check_memory(uncapped, room, "fine-tuning"));
}

TEST_CASE("pre-training's estimate holds both encoders and the generator's logits", "[memory]") {
  electra::ElectraConfig disc = small_config();
  disc.architecture = electra::Architecture::pretraining;
  electra::ElectraConfig gen = disc;
  gen.hidden_size = 4;
  gen.intermediate_size = 16;
  gen.num_attention_heads = 1;
  const auto e = electra::pretrain_memory(disc, gen, 4, 10, 2, false, 0);
  // 4 sequences x 2 predictions x 100 vocabulary logits, four fp32 copies (logits, log-softmax, their gradients).
  CHECK(e.train_activations == Approx(electra::encoder_activation_bytes(disc, 4, 10, true, false) +
                                      electra::encoder_activation_bytes(gen, 4, 10, true, false) + 16.0 * 4 * 2 * 100));
  CHECK(e.eval_activations == 0);
}

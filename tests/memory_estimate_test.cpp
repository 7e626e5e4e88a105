// The memory estimate's terms (train/memory_estimate.h) against a hand count for a small config.
#include <stdexcept>
#include <string>

#include "model/config.h"
#include "model/runtime.h"
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
  const electra::MemoryEstimate e = electra::fine_tune_memory(c, 4, 8, 10, false, false, 1000);
  CHECK(e.baseline == 1000);
  CHECK(e.parameters == 4 * 5986);
  CHECK(e.gradients == 4 * 5986);
  CHECK(e.optimizer_state == 8 * 5986);
  CHECK(e.step_copies == 8 * 5986);
  CHECK(e.autocast_copies == 0);
  using electra::AttentionKernel;
  const auto activations = [&](double batch, bool training, AttentionKernel kernel, bool bf16 = false) {
    return electra::encoder_activation_bytes(c, batch, 10, training, bf16, kernel);
  };
  // Eager attention. Train, N = 4 x 10 tokens, scores 4 x 2 x 10^2: per layer 8 N H + 2 N I + scores = 8480, twice;
  // embeddings 4 N E + N H = 1920; the backward's 2 scores + 2 N I + 4 N H = 6720: 25600 floats, x 4 bytes x 1.25.
  CHECK(activations(4, true, AttentionKernel::eager) == Approx(25600 * 5.0));
  // Eval, N = 80, scores 1600: 5 N H + 2 scores + 2 N I + 2 N E = 16000 floats.
  CHECK(activations(8, false, AttentionKernel::eager) == Approx(16000 * 5.0));
  // Fused attention keeps a log-sum-exp per query and head (N A = 80) instead of the scores: per layer 7760, twice;
  // embeddings 1920; the backward's 2 N I + 4 N H = 5120: 22560. Eval: no scores, 12800.
  CHECK(activations(4, true, AttentionKernel::fused) == Approx(22560 * 5.0));
  CHECK(activations(8, false, AttentionKernel::fused) == Approx(12800 * 5.0));
  // The run's terms take the kernel this build runs.
  const double train = activations(4, true, electra::attention_kernel(c, true, false));
  CHECK(e.train_activations == Approx(train));
  CHECK(e.eval_activations == Approx(activations(8, false, electra::attention_kernel(c, false, false))));
  CHECK(e.saving == 24 * 5986);
  // Here a save outweighs a step: 24 x 5986 + 0.8 x train activations against 8 x 5986 + train activations.
  CHECK(e.peak() == Approx(1000 + e.runtime + 16 * 5986 + 24 * 5986 + 0.8 * train));
  // 100 times the batch: the step is the larger phase.
  const auto big = electra::fine_tune_memory(c, 400, 8, 10, false, false, 0);
  CHECK(big.train_activations == Approx(100 * train));
  CHECK(big.added() == Approx(big.runtime + 16 * 5986 + 8 * 5986 + 100 * train));
  SECTION("dropout keeps its masks: 2 N H and 2 scores more per layer") {
    c.hidden_dropout_prob = 0.1;
    c.attention_probs_dropout_prob = 0.1;
    CHECK(activations(4, true, AttentionKernel::eager) == Approx((25600 + 2 * 2880) * 5.0));
    // Fused, the attention dropout lives inside the kernel: only the hidden dropouts' 2 N H per layer are added.
    CHECK(activations(4, true, AttentionKernel::fused) == Approx((22560 + 2 * 2 * 640) * 5.0));
  }
  SECTION("bf16 autocast: activations at 3 bytes a float, and bf16 copies of the weights") {
    const auto bf16 = electra::fine_tune_memory(c, 4, 8, 10, true, true, 0);
    CHECK(bf16.train_activations ==
          Approx(activations(4, true, electra::attention_kernel(c, true, true), true)));
    CHECK(activations(4, true, AttentionKernel::eager, true) == Approx(25600 * 3.0 * 1.25));
    CHECK(bf16.autocast_copies == 2 * 5986);
  }
}

TEST_CASE("memory estimate counts the attention kernel this build runs", "[memory]") {
  using electra::AttentionKernel;
  electra::ElectraConfig c = small_config();
  c.attention_probs_dropout_prob = 0.1;
  if (!electra::fused_kernels_built()) {
    // LibTorch 1.x: eager softmax everywhere.
    for (const bool training : {true, false})
      for (const bool cuda : {true, false}) CHECK(electra::attention_kernel(c, training, cuda) == AttentionKernel::eager);
    return;
  }
  // LibTorch 2: scaled_dot_product_attention; its CPU flash kernel has no dropout, so a CPU training pass with
  // attention dropout runs the eager math path.
  CHECK(electra::attention_kernel(c, true, false) == AttentionKernel::eager);
  CHECK(electra::attention_kernel(c, false, false) == AttentionKernel::fused);
  CHECK(electra::attention_kernel(c, true, true) == AttentionKernel::fused);
  c.attention_probs_dropout_prob = 0;
  CHECK(electra::attention_kernel(c, true, false) == AttentionKernel::fused);
}

TEST_CASE("memory estimate of a run caps batches and lengths at the data, and its refusal names the keys",
          "[memory]") {
  const electra::ElectraConfig c = small_config();
  electra::ExperimentOptions o;
  o.data.max_seq_length = 10;
  o.train.batch_size = 1000;
  o.train.eval_batch_size = 8;
  const auto uncapped = electra::fine_tune_estimate(c, o, 1000, nullptr, 0);
  const auto kernel = [&](bool training) { return electra::attention_kernel(c, training, false); };
  CHECK(uncapped.train_activations == Approx(electra::encoder_activation_bytes(c, 1000, 10, true, false, kernel(true))));
  electra::DataShape data;
  data.train_features = 4;
  data.train_length = 7;
  data.eval_features = 100;
  data.eval_length = 5;
  const auto capped = electra::fine_tune_estimate(c, o, 1000, &data, 0);
  CHECK(capped.train_activations == Approx(electra::encoder_activation_bytes(c, 4, 7, true, false, kernel(true))));
  CHECK(capped.eval_activations == Approx(electra::encoder_activation_bytes(c, 8, 5, false, false, kernel(false))));

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
  const auto e = electra::pretrain_memory(disc, gen, 4, 10, 2, false, false, 0);
  // 4 sequences x 2 predictions x 100 vocabulary logits, four fp32 copies (logits, log-softmax, their gradients).
  const auto activations = [](const electra::ElectraConfig& c) {
    return electra::encoder_activation_bytes(c, 4, 10, true, false, electra::attention_kernel(c, true, false));
  };
  CHECK(e.train_activations == Approx(activations(disc) + activations(gen) + 16.0 * 4 * 2 * 100));
  CHECK(e.eval_activations == 0);
}

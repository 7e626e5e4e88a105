#include "tests/model_support.h"

namespace electra::test {

ElectraConfig tiny_config(int64_t vocab_size, Architecture architecture, int64_t num_labels) {
  ElectraConfig c;
  c.vocab_size = vocab_size;
  c.embedding_size = 32;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.max_position_embeddings = 64;
  c.hidden_dropout_prob = 0;
  c.attention_probs_dropout_prob = 0;
  c.architecture = architecture;
  if (num_labels > 0) c.id2label = default_labels(num_labels);
  return c;
}

}  // namespace electra::test

// A model folder in Hugging Face's layout, written whole: config.json, model.safetensors and the tokenizer files
// beside them, their length limits fitted to the model's positions (save_pretrained and the pre-training pair).
#pragma once

#include <filesystem>
#include <string>

#include "model/config.h"
#include "model/tensor_io.h"

namespace electra {

// Writes DIR: config.json (`config`), model.safetensors (`tensors`, as float32 on the CPU) and the tokenizer files of
// `tokenizer_dir` (vocab.txt, tokenizer_config.json, special_tokens_map.json, tokenizer.json, added_tokens.json), with
// model_max_length and tokenizer.json's truncation at most config.max_position_embeddings (fit_tokenizer_file). A
// tokenizer_dir with tokenizer.json and no vocab.txt also gets vocab.txt (and tokenizer_config.json) written from
// tokenizer.json; one with vocab.txt and no tokenizer_config.json gets `default_tokenizer_config`, fitted. An empty
// tokenizer_dir writes no tokenizer file.
// DIR is built beside as .<name>.tmp, fsynced and renamed into place, so that it holds the old model or the new one,
// never a mix; DIR being tokenizer_dir itself is updated in place, file by file, keeping its other files. Throws
// std::runtime_error naming the file that could not be read or written, or a tokenizer_dir without vocab.txt or
// tokenizer.json.
void write_model_folder(const std::filesystem::path& dir, const ElectraConfig& config, const TensorMap& tensors,
                        const std::filesystem::path& tokenizer_dir, const std::string& default_tokenizer_config = "");

}  // namespace electra

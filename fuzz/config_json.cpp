// config.json of a checkpoint: ElectraConfig::from_json_text, and the round trip through to_json_text (a
// config that was accepted must be written back into one that reads the same).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  electra::ElectraConfig config;
  try {
    config = electra::ElectraConfig::from_json_text(text, "config.json");
  } catch (const std::exception&) {
    return 0;
  }
  (void)config.validation_error();
  const std::string written = config.to_json_text();
  try {
    const auto again = electra::ElectraConfig::from_json_text(written, "written config.json");
    if (again.to_json_text() != written) {
      std::fprintf(stderr, "config.json round trip changed the config:\n%s\n", written.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "an accepted config.json was written back unreadable: %s\n%s\n", e.what(), written.c_str());
    std::abort();
  }
  return 0;
}

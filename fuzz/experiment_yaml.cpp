// YAML experiment configs with `base:`: load_experiment over up to three files (exp.yaml, base.yaml,
// other.yaml, which may name each other), then `--set` lines, validate, and the round trip through to_yaml.
// Input: a flag byte, then exp.yaml [@@@@ base.yaml [@@@@ other.yaml [@@@@ key=value lines]]].
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "train/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = electra::fuzz;
  const fz::Input in = fz::split_input(data, size, 4);
  const char* names[] = {"exp.yaml", "base.yaml", "other.yaml"};
  for (size_t i = 0; i < 3; ++i) {
    if (i < in.parts.size()) {
      fz::write_scratch(names[i], in.parts[i]);
    } else {
      fz::remove_scratch(names[i]);
    }
  }
  std::vector<std::string> sets;
  if (in.parts.size() == 4) {
    std::string_view lines = in.parts[3];
    while (!lines.empty()) {
      const auto end = lines.find('\n');
      sets.emplace_back(lines.substr(0, end));
      lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
    }
  }
  electra::ExperimentOptions options;
  try {
    options = electra::load_experiment(fz::scratch_dir() / "exp.yaml", sets);
    electra::validate(options);
  } catch (const std::exception&) {
    return 0;
  }
  const std::string yaml = electra::to_yaml(options);
  try {
    const auto again = electra::load_experiment(fz::write_scratch("dumped.yaml", yaml));
    if (electra::to_yaml(again) != yaml) {
      std::fprintf(stderr, "to_yaml round trip changed the options:\n%s\n", yaml.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "valid options were dumped unreadable: %s\n%s\n", e.what(), yaml.c_str());
    std::abort();
  }
  return 0;
}

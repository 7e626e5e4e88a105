#include "common/source_dir.h"

namespace electra {

const char* source_dir() { return ELECTRA_SOURCE_DIR; }

}  // namespace electra

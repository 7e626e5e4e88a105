// The checkout electra was built from: where the shipped configs (configs/), examples and data-source tables are
// found when the user names none. Compiled into common/source_dir.cpp alone, so that no other object depends on the
// checkout's path (ccache hits across clones and git worktrees).
#pragma once

namespace electra {

// The source folder given to CMake, as an absolute path.
const char* source_dir();

}  // namespace electra

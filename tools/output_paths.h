// Checks of output paths made before a command does its work, so a bad --json, --maps or
// --plots path fails at once and leaves no partial outputs behind.
#pragma once

#include <string>

namespace radgal::tools {

// Creates `dir` (and its parents) if needed; throws std::runtime_error naming `option` and `dir`
// when it cannot be created or is not writable.
void require_writable_dir(const std::string& dir, const std::string& option);

// Throws std::runtime_error naming `option` and `file` when `file` is a folder, or the folder
// that will hold it does not exist or is not writable. Creates nothing.
void require_writable_parent(const std::string& file, const std::string& option);

}  // namespace radgal::tools

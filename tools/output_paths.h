// Checks of output paths made before a command does its work, so a bad --json, --maps, --out or
// --plots path fails at once and leaves no partial outputs behind. One set of checks and words
// for every command: the *_problem functions return the reason, for commands that print it and
// return an exit code; the require_* functions throw it.
#pragma once

#include <string>

namespace radgal::tools {

// Creates `dir` (and its parents) if needed. Returns "" when it is then a writable folder,
// otherwise the reason, naming `option` and `dir`: "--plots out: cannot create the folder: ..."
// or "--plots out: the folder is not writable".
std::string writable_dir_problem(const std::string& dir, const std::string& option);

// Returns "" when `file` can be written, otherwise the reason, naming `option` and `file`:
// `file` is a folder, or the folder that will hold it does not exist, is not a folder or is not
// writable. Creates nothing.
std::string writable_parent_problem(const std::string& file, const std::string& option);

// The same checks, throwing std::runtime_error with the reason.
void require_writable_dir(const std::string& dir, const std::string& option);
void require_writable_parent(const std::string& file, const std::string& option);

}  // namespace radgal::tools

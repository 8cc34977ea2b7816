// Checks of input paths made before a command opens them. Opening a named pipe for reading
// blocks until something writes to it, so a pipe given by mistake (or lying in a data folder)
// would hang the command; a folder, socket or device is not data either. Each input is therefore
// looked at with stat() first, which never blocks, and refused by name.
#pragma once

#include <string>

namespace radgal::tools {

// "" when `path` is a regular file (symbolic links followed) or nothing is there (opening it
// then fails with the reader's own message); otherwise "not a regular file (a named pipe)", or
// a folder, socket or device likewise.
std::string special_file_problem(const std::string& path);

// Throws std::runtime_error("<path>: not a regular file (...)") when special_file_problem says
// so; does nothing otherwise.
void reject_special_file(const std::string& path);

// The same for every file a batched release folder holds that the batch readers open
// (batches.meta, data_batch_*, test_batch), without reading any of them. Missing files are left
// to the readers to report.
void reject_special_batch_files(const std::string& dir);

}  // namespace radgal::tools

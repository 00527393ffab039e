#pragma once
// The locks that keep sessions consistent across processes and crashes.
//
// SessionLock: held by the one process creating, refreshing or deleting a session, in
// $AIRLOCK_HOME/sessions/<name>.lock (flock). The file names the operation. A finished
// operation (success or an undone failure) removes the file; a killed one leaves it behind,
// unheld, so the next `doctor --fix` knows exactly what was interrupted and recovers it the
// right way (undo a create, finish a refresh, finish a delete).
//
// StartLock: $AIRLOCK_HOME/sessions/.start.lock, held while counting the running containers
// against [docker] max_containers and starting one, so the limit holds under concurrency.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/result.hpp"

namespace airlock::session {

enum class Operation { create, refresh, remove };

std::string_view to_string(Operation op);                      // "create" | "refresh" | "delete"
std::optional<Operation> parse_operation(std::string_view text);  // the inverse

class SessionLock {
public:
    // Takes the lock of a session for `op` (non-blocking). Error when another airlock holds
    // it. When a killed process left the file, `interrupted` (if given) gets what it was doing.
    static Result<SessionLock> take(const std::filesystem::path& file, Operation op,
                                    std::optional<Operation>* interrupted = nullptr);

    // Is the lock held by a live process?
    static bool held(const std::filesystem::path& file);

    // What a killed process was doing: the file exists and nobody holds it. nullopt otherwise
    // (no file, held, or unreadable content: then `create`, the oldest meaning).
    static std::optional<Operation> interrupted(const std::filesystem::path& file);

    // A recovery that failed: the file stays (unheld once this lock goes), so the next
    // doctor --fix knows what is still to be done.
    void keep_file() { keep_ = true; }

    SessionLock(SessionLock&& o) noexcept;
    SessionLock& operator=(SessionLock&&) = delete;
    ~SessionLock();  // removes the file, then unlocks

private:
    SessionLock(std::filesystem::path file, int fd) : file_(std::move(file)), fd_(fd) {}
    std::filesystem::path file_;
    int fd_;
    bool keep_ = false;
};

class StartLock {
public:
    // Blocks until the lock is ours. Error only when the file cannot be opened.
    static Result<StartLock> take(const std::filesystem::path& file);
    StartLock(StartLock&& o) noexcept;
    StartLock& operator=(StartLock&&) = delete;
    ~StartLock();

private:
    explicit StartLock(int fd) : fd_(fd) {}
    int fd_;
};

// Test hook: when the environment variable AIRLOCK_TEST_KILL_AFTER equals `step`, the
// process sends itself SIGKILL (a crash at a chosen point); AIRLOCK_TEST_PAUSE_AFTER=step
// sleeps 8 s there (room for a concurrent command). See DEVELOPERS.md.
void crash_point(std::string_view step);

}  // namespace airlock::session

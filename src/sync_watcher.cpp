#include "sync_watcher.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/core.h>

namespace airlock {

Status spawn_sync_watcher(const Paths& paths, const std::string& session, const std::string& container_id) {
    std::vector<std::string> args = {"airlock", "--home", paths.home.string(), "_watch", session, container_id};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t child = ::fork();
    if (child < 0) return make_error(fmt::format("fork: {}", std::strerror(errno)));
    if (child == 0) {
        // Twice, so the watcher is init's child and never this process's zombie.
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return {};
}

}  // namespace airlock

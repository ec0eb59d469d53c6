/*
 * lifeline_tcp: set and read back TCP keepalive and TCP_USER_TIMEOUT on a socket fd.
 *
 * Why a native addon: Node's socket.setKeepAlive() sets only the idle time (libuv picks the
 * probe interval and count), and nothing in Node sets TCP_USER_TIMEOUT. Dead-peer detection needs
 * all of them, and tests need to read them back with getsockopt.
 *
 * Why plain C against node_api.h (N-API) and no npm helper (node-addon-api, nan, bindings):
 * N-API is ABI-stable, so one build works on every later Node major without a rebuild; the
 * headers ship with Node itself, so the build needs no download and no extra package; and the
 * code is two functions, which C wrappers would not make shorter.
 *
 * Exports:
 *   set(fd, enable, idleSec, intervalSec, count, userTimeoutMs) -> undefined
 *     A negative idleSec / intervalSec / count / userTimeoutMs leaves that option unchanged.
 *     Throws an Error with `code` (errno name), `errno` and `syscall` when setsockopt fails, and
 *     with code ENOTSUP when asked to set an option this platform lacks.
 *   get(fd) -> { enable, idleSec, intervalSec, count, userTimeoutMs }
 *     Each value as getsockopt reads it back; null for an option this platform lacks.
 *   peek(fd) -> 1 data waiting, 0 FIN received, PEEK_OPEN open and quiet, other -errno (see Peek).
 *   PEEK_OPEN: the constant peek returns for a quiet open socket (a positive value, so it can
 *     never be mistaken for a -errno, whose numbers differ between platforms).
 *
 * Portability: every option is behind #ifdef, so the file compiles on any platform; macOS names
 * the idle option TCP_KEEPALIVE. On Windows, sockets are not fds, so everything is unsupported.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef _WIN32
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#if !defined(TCP_KEEPIDLE) && defined(TCP_KEEPALIVE)
#define TCP_KEEPIDLE TCP_KEEPALIVE
#endif
#define LL_HAVE_SOCKETS 1
#endif

#define CHECK(call)                                                                          \
  do {                                                                                       \
    if ((call) != napi_ok) return NULL;                                                      \
  } while (0)

static const char *errno_code(int err) {
  switch (err) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EPERM: return "EPERM";
    case EFAULT: return "EFAULT";
#ifdef EOPNOTSUPP
    case EOPNOTSUPP: return "EOPNOTSUPP";
#endif
    default: return "ERR_SOCKOPT";
  }
}

/* Throw Error(message) with code, errno and syscall set, as Node's own system errors do. */
static void throw_sys(napi_env env, const char *syscall, const char *option, int value, int err) {
  char message[192];
  napi_value code, msg, error, num, sys;
  snprintf(message, sizeof message, "%s(%s=%d) failed: %s", syscall, option, value, strerror(err));
  if (napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code) != napi_ok) return;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return;
  if (napi_create_error(env, code, msg, &error) != napi_ok) return;
  if (napi_create_int32(env, -err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys) == napi_ok) {
    napi_set_named_property(env, error, "syscall", sys);
  }
  napi_throw(env, error);
}

static void throw_unsupported(napi_env env, const char *option) {
  char message[128];
  snprintf(message, sizeof message, "%s is not supported on this platform", option);
  napi_throw_error(env, "ENOTSUP", message);
}

/* Read argument i as an int32; throws a TypeError (and returns 0) when it is not a number. */
static int arg_int(napi_env env, napi_value *argv, size_t i, int *out) {
  napi_valuetype type;
  if (napi_typeof(env, argv[i], &type) != napi_ok) return 0;
  if (type != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "lifeline_tcp: expected a number argument");
    return 0;
  }
  return napi_get_value_int32(env, argv[i], out) == napi_ok;
}

#ifdef LL_HAVE_SOCKETS
/* Set one int option unless value < 0. Returns 1 on success, 0 after throwing. */
static int set_opt(napi_env env, int fd, int level, int name, const char *label, int value) {
  if (value < 0) return 1;
  if (setsockopt(fd, level, name, &value, (socklen_t)sizeof value) != 0) {
    throw_sys(env, "setsockopt", label, value, errno);
    return 0;
  }
  return 1;
}

/* Store getsockopt(level, name) as property `key`. Returns 1 on success, 0 after throwing. */
static int get_opt(napi_env env, int fd, int level, int name, const char *label, napi_value obj, const char *key) {
  int value = 0;
  socklen_t len = (socklen_t)sizeof value;
  napi_value js;
  if (getsockopt(fd, level, name, &value, &len) != 0) {
    throw_sys(env, "getsockopt", label, 0, errno);
    return 0;
  }
  if (napi_create_int32(env, value, &js) != napi_ok) return 0;
  return napi_set_named_property(env, obj, key, js) == napi_ok;
}
#endif

static inline int set_null(napi_env env, napi_value obj, const char *key) {
  napi_value js;
  if (napi_get_null(env, &js) != napi_ok) return 0;
  return napi_set_named_property(env, obj, key, js) == napi_ok;
}

static napi_value Set(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int fd, idle, intvl, count, user_timeout;
  bool enable;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "set(fd, enable, idleSec, intervalSec, count, userTimeoutMs)");
    return NULL;
  }
  if (!arg_int(env, argv, 0, &fd)) return NULL;
  if (napi_get_value_bool(env, argv[1], &enable) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "lifeline_tcp: enable must be a boolean");
    return NULL;
  }
  if (!arg_int(env, argv, 2, &idle) || !arg_int(env, argv, 3, &intvl) || !arg_int(env, argv, 4, &count) ||
      !arg_int(env, argv, 5, &user_timeout)) {
    return NULL;
  }
#ifdef LL_HAVE_SOCKETS
  /* Timing first, then SO_KEEPALIVE: enabling arms the timer with the new idle time at once. */
#ifdef TCP_KEEPIDLE
  if (!set_opt(env, fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", idle)) return NULL;
#else
  if (idle >= 0) { throw_unsupported(env, "TCP_KEEPIDLE"); return NULL; }
#endif
#ifdef TCP_KEEPINTVL
  if (!set_opt(env, fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", intvl)) return NULL;
#else
  if (intvl >= 0) { throw_unsupported(env, "TCP_KEEPINTVL"); return NULL; }
#endif
#ifdef TCP_KEEPCNT
  if (!set_opt(env, fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", count)) return NULL;
#else
  if (count >= 0) { throw_unsupported(env, "TCP_KEEPCNT"); return NULL; }
#endif
  if (!set_opt(env, fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", enable ? 1 : 0)) return NULL;
#ifdef TCP_USER_TIMEOUT
  if (!set_opt(env, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", user_timeout)) return NULL;
#else
  if (user_timeout > 0) { throw_unsupported(env, "TCP_USER_TIMEOUT"); return NULL; }
#endif
  return NULL;
#else
  (void)fd; (void)enable; (void)idle; (void)intvl; (void)count; (void)user_timeout;
  throw_unsupported(env, "SO_KEEPALIVE on a file descriptor");
  return NULL;
#endif
}

static napi_value Get(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value obj;
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "get(fd)");
    return NULL;
  }
  if (!arg_int(env, argv, 0, &fd)) return NULL;
  CHECK(napi_create_object(env, &obj));
#ifdef LL_HAVE_SOCKETS
  if (!get_opt(env, fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", obj, "enable")) return NULL;
#ifdef TCP_KEEPIDLE
  if (!get_opt(env, fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", obj, "idleSec")) return NULL;
#else
  if (!set_null(env, obj, "idleSec")) return NULL;
#endif
#ifdef TCP_KEEPINTVL
  if (!get_opt(env, fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", obj, "intervalSec")) return NULL;
#else
  if (!set_null(env, obj, "intervalSec")) return NULL;
#endif
#ifdef TCP_KEEPCNT
  if (!get_opt(env, fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", obj, "count")) return NULL;
#else
  if (!set_null(env, obj, "count")) return NULL;
#endif
#ifdef TCP_USER_TIMEOUT
  if (!get_opt(env, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", obj, "userTimeoutMs")) return NULL;
#else
  if (!set_null(env, obj, "userTimeoutMs")) return NULL;
#endif
#else
  (void)fd;
  if (!set_null(env, obj, "enable") || !set_null(env, obj, "idleSec") || !set_null(env, obj, "intervalSec") ||
      !set_null(env, obj, "count") || !set_null(env, obj, "userTimeoutMs")) {
    return NULL;
  }
#endif
  return obj;
}

/*
 * peek(fd) -> 1 (bytes are waiting), 0 (the peer sent FIN), -errno (e.g. -ECONNRESET), or
 * PEEK_OPEN when the socket is open and nothing has arrived.
 * Why: an idle pooled socket may have received the server's FIN or RST in the kernel that the
 * event loop has not yet delivered; one non-blocking MSG_PEEK recv sees it before the socket is
 * reused, without consuming anything.
 */
#define PEEK_OPEN 2

static napi_value Peek(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "peek(fd)");
    return NULL;
  }
  if (!arg_int(env, argv, 0, &fd)) return NULL;
#ifdef LL_HAVE_SOCKETS
  {
    char byte;
    ssize_t n;
    do {
      n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    int value = n > 0 ? 1 : n == 0 ? 0 : (errno == EWOULDBLOCK || errno == EAGAIN) ? PEEK_OPEN : -errno;
    CHECK(napi_create_int32(env, value, &result));
    return result;
  }
#else
  (void)fd;
  throw_unsupported(env, "peek on a file descriptor");
  return NULL;
#endif
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "set", NAPI_AUTO_LENGTH, Set, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "set", fn));
  CHECK(napi_create_function(env, "get", NAPI_AUTO_LENGTH, Get, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "get", fn));
  CHECK(napi_create_function(env, "peek", NAPI_AUTO_LENGTH, Peek, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "peek", fn));
  CHECK(napi_create_int32(env, PEEK_OPEN, &fn));
  CHECK(napi_set_named_property(env, exports, "PEEK_OPEN", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

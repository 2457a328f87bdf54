#ifndef SPIEGEL_CCURL_SHIM_H
#define SPIEGEL_CCURL_SHIM_H

// Swift cannot call C variadic functions. These typed wrappers are the only way Spiegel calls
// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt.

#include <curl/curl.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Names the calling thread (as `top -H` and `ps -T` show it); the transfer thread calls it.
static inline void spiegel_name_current_thread(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#endif
}

/// Ignores SIGPIPE process-wide: a peer closing a socket must not kill the process.
static inline void spiegel_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

/// curl_global_init with every feature on; call once per process.
static inline CURLcode spiegel_global_init(void) {
    return curl_global_init(CURL_GLOBAL_ALL);
}

/// Whether this libcurl was built with TLS (CURLVERSION_NOW is a macro Swift cannot see).
static inline int spiegel_supports_tls(void) {
    curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    return info != NULL && (info->features & CURL_VERSION_SSL) != 0;
}

static inline CURLcode spiegel_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode spiegel_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode spiegel_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode spiegel_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode spiegel_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode spiegel_easy_setopt_write_function(CURL *handle, CURLoption option, curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode spiegel_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode spiegel_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

#endif

// The C shim over sentencepiece::SentencePieceProcessor (see spm.h). No C++
// exception escapes: sentencepiece reports errors through util::Status, and
// allocation failures are caught here.
#include "nn/tok/spm.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct vc_spm {
    sentencepiece::SentencePieceProcessor sp;
};

static void set_err(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg.c_str());
}

extern "C" vc_spm *vc_spm_load(const char *path, char *err, size_t errlen)
{
    try {
        vc_spm *s = new vc_spm;
        const auto st = s->sp.Load(path);
        if (!st.ok()) {
            set_err(err, errlen, std::string(path) + ": " + st.ToString());
            delete s;
            return nullptr;
        }
        return s;
    } catch (const std::exception &e) {
        set_err(err, errlen, std::string(path) + ": " + e.what());
        return nullptr;
    }
}

extern "C" void vc_spm_free(vc_spm *s)
{
    delete s;
}

extern "C" int vc_spm_encode(const vc_spm *s, const char *text, size_t len, int32_t **ids, size_t *n,
                             char *err, size_t errlen)
{
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<int> v;
        const auto st = s->sp.Encode(absl::string_view(text, len), &v);
        if (!st.ok()) {
            set_err(err, errlen, "sentencepiece: " + st.ToString());
            return -1;
        }
        if (!v.empty()) {
            *ids = static_cast<int32_t *>(std::malloc(v.size() * sizeof(int32_t)));
            if (!*ids) {
                set_err(err, errlen, "out of memory");
                return -1;
            }
            for (size_t i = 0; i < v.size(); i++)
                (*ids)[i] = v[i];
        }
        *n = v.size();
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, std::string("sentencepiece: ") + e.what());
        return -1;
    }
}

extern "C" int vc_spm_vocab_size(const vc_spm *s)
{
    return s->sp.GetPieceSize();
}

extern "C" int vc_spm_eos_id(const vc_spm *s)
{
    return s->sp.eos_id();
}

extern "C" int vc_spm_pad_id(const vc_spm *s)
{
    return s->sp.pad_id();
}

extern "C" int vc_spm_unk_id(const vc_spm *s)
{
    return s->sp.unk_id();
}

extern "C" int vc_spm_piece_to_id(const vc_spm *s, const char *piece)
{
    try {
        return s->sp.PieceToId(piece);
    } catch (const std::exception &) {
        return s->sp.unk_id();
    }
}

/* The engine's outcomes as HTTP replies (outcomes.def). */
#include "allot/api.h"

#include <string.h>

#include "allot/log.h"

static const struct api_outcome_info {
    const char *word;
    bool success;
    enum http_error error;
    const char *field;
    const char *message;
} outcomes[API_OUTCOME_COUNT] = {
#define SUCCESS(word) [API_OUTCOME_##word] = {#word, true, HTTP_ERR_INTERNAL, NULL, NULL},
#define REFUSE(word, error, field, message) \
    [API_OUTCOME_##word] = {#word, false, HTTP_ERR_##error, field, message},
#include "allot/outcomes.def"
#undef SUCCESS
#undef REFUSE
};

enum api_outcome api_outcome_parse(const char *word)
{
    for (size_t i = 0; word != NULL && i < API_OUTCOME_COUNT; i++)
        if (strcmp(outcomes[i].word, word) == 0)
            return (enum api_outcome)i;
    return API_OUTCOME_COUNT;
}

const char *api_outcome_word(enum api_outcome o)
{
    return (size_t)o < API_OUTCOME_COUNT ? outcomes[o].word : NULL;
}

void api_reply_refusal(struct http_request *r, enum api_outcome o, const char *result_code)
{
    if ((size_t)o >= API_OUTCOME_COUNT || outcomes[o].success) {
        /* An outcome this allotd does not know, or a success the handler
         * did not answer: a bug, never shown as such. */
        log_error(http_corr_id(r), "no reply for the engine's outcome %d", (int)o);
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    const struct api_outcome_info *i = &outcomes[o];
    json_t *extra = json_object();
    if (i->field != NULL)
        json_object_set_new(extra, "field", json_string(i->field));
    if (result_code != NULL && result_code[0] != '\0')
        json_object_set_new(extra, "resultCode", json_string(result_code));
    http_reply_error_extra_steal(r, i->error, i->message, extra);
}

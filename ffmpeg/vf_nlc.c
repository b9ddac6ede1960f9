/*
 * nlc filter: passes every frame through the nlc neural image codec (encode, then decode)
 * and tags it with what the coding cost and did. Part of nlc (not of FFmpeg): copied into an
 * FFmpeg source tree by nlc's ffmpeg/build.sh, which also applies the registration patch.
 *
 *   -vf nlc=quality=Q[:model=PATH][:device=cpu|cuda|auto][:threads=N][:streams=PATTERN]
 *
 * Frame metadata: lavfi.nlc.bytes (stream size), lavfi.nlc.bpp (8 x bytes / pixels),
 * lavfi.nlc.psnr (PSNR-RGB of the decoded frame against the frame that was encoded).
 * streams=PATTERN also writes each frame's .nlc stream (PATTERN as in the image2 muxer,
 * e.g. frame%04d.nlc, numbered from 1), through a temporary file renamed into place.
 *
 * Formats: rgb24 and gbrp are coded as they are; yuv420p and yuv444p are converted to RGB
 * for coding and back (libswscale, BT.601), so the output has the input's format.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include <nlc/nlc.h>

#include "libavutil/imgutils.h"
#include "libavutil/internal.h"
#include "libavutil/opt.h"
#include "libavutil/pixdesc.h"
#include "libswscale/swscale.h"
#include "avfilter.h"
#include "formats.h"
#include "internal.h"
#include "video.h"

typedef struct NlcContext {
    const AVClass *class;
    double quality;
    char *model;
    char *device;
    int threads;
    char *streams;

    nlc_encoder *enc;
    nlc_decoder *dec;
    struct SwsContext *to_rgb, *from_rgb;
    uint8_t *rgb;          /* the frame as packed RGB, width * 3 bytes a row */
    int64_t frame_number;  /* for streams=, from 1 */
} NlcContext;

#define OFFSET(x) offsetof(NlcContext, x)
#define FLAGS AV_OPT_FLAG_FILTERING_PARAM | AV_OPT_FLAG_VIDEO_PARAM

static const AVOption nlc_options[] = {
    { "quality", "nlc quality, continuous over the model's range", OFFSET(quality), AV_OPT_TYPE_DOUBLE, { .dbl = 3 }, 0, 1000, FLAGS },
    { "q",       "nlc quality, continuous over the model's range", OFFSET(quality), AV_OPT_TYPE_DOUBLE, { .dbl = 3 }, 0, 1000, FLAGS },
    { "model",   "model file (.nlcm); default: $NLC_MODEL, else the installed model", OFFSET(model), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "device",  "cpu, cuda or auto", OFFSET(device), AV_OPT_TYPE_STRING, { .str = "auto" }, 0, 0, FLAGS },
    { "threads", "CPU threads for the transforms (0: all cores)", OFFSET(threads), AV_OPT_TYPE_INT, { .i64 = 0 }, 0, 1024, FLAGS },
    { "streams", "also write each frame's .nlc stream to this pattern (e.g. f%04d.nlc)", OFFSET(streams), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { NULL }
};

AVFILTER_DEFINE_CLASS(nlc);

static int nlc_error(AVFilterContext *ctx, nlc_status st, const char *what)
{
    av_log(ctx, AV_LOG_ERROR, "%s: %s\n", what, nlc_last_error());
    switch (st) {
    case NLC_ERROR_MEMORY:   return AVERROR(ENOMEM);
    case NLC_ERROR_ARGUMENT: return AVERROR(EINVAL);
    case NLC_ERROR_IMAGE:    return AVERROR(EINVAL);
    case NLC_ERROR_MODEL:    return AVERROR(EINVAL);
    case NLC_ERROR_STREAM:   return AVERROR_INVALIDDATA;
    default:                 return AVERROR_EXTERNAL;
    }
}

/* Expands PATTERN's one %d (or %0Nd) to the frame number; "%%" is a literal percent.
 * Returns 0, or -1 for a pattern without exactly one number or one that does not fit. */
static int frame_path(char *out, size_t size, const char *pattern, int64_t number)
{
    const char *p;
    size_t n = 0;
    int numbers = 0;
    for (p = pattern; *p; p++) {
        int width = 0, written;
        if (*p != '%') {
            if (n + 1 >= size)
                return -1;
            out[n++] = *p;
            continue;
        }
        if (p[1] == '%') {
            if (n + 1 >= size)
                return -1;
            out[n++] = '%';
            p++;
            continue;
        }
        for (p++; *p >= '0' && *p <= '9'; p++)
            width = width * 10 + (*p - '0');
        if (*p != 'd' || width > 32 || numbers++)
            return -1;
        written = snprintf(out + n, size - n, "%0*" PRId64, width, number);
        if (written < 0 || (size_t)written >= size - n)
            return -1;
        n += written;
    }
    out[n] = 0;
    return numbers == 1 ? 0 : -1;
}

static av_cold int init(AVFilterContext *ctx)
{
    NlcContext *s = ctx->priv;
    nlc_status st;
    double max_q;

    if (strcmp(s->device, "cpu") && strcmp(s->device, "cuda") && strcmp(s->device, "auto")) {
        av_log(ctx, AV_LOG_ERROR, "device must be cpu, cuda or auto, not '%s'\n", s->device);
        return AVERROR(EINVAL);
    }
    if (s->threads > 0)
        nlc_set_threads(s->threads);
    if ((st = nlc_encoder_create(s->model, &s->enc)) != NLC_OK)
        return nlc_error(ctx, st, "cannot load the nlc model");
    if ((st = nlc_decoder_create(s->model, &s->dec)) != NLC_OK)
        return nlc_error(ctx, st, "cannot load the nlc model");
    /* The device (libnlc's selection, as nlc --device): auto that stays on the CPU says why. */
    if ((st = nlc_encoder_set_device(s->enc, s->device, 0)) != NLC_OK ||
        (st = nlc_decoder_set_device(s->dec, s->device, 0)) != NLC_OK)
        return nlc_error(ctx, st, "device cannot be used");
    if (!strcmp(s->device, "auto") && nlc_last_error()[0])
        av_log(ctx, AV_LOG_INFO, "device=auto: %s\n", nlc_last_error());
    max_q = nlc_encoder_max_quality(s->enc);
    if (s->quality > max_q) {
        av_log(ctx, AV_LOG_ERROR, "quality %g is above the model's maximum %g\n", s->quality, max_q);
        return AVERROR(EINVAL);
    }
    if (s->streams) {
        char probe[4096];
        if (frame_path(probe, sizeof(probe), s->streams, 1) < 0) {
            av_log(ctx, AV_LOG_ERROR, "streams=%s: the pattern needs one frame number (%%d or %%0Nd)\n", s->streams);
            return AVERROR(EINVAL);
        }
    }
    return 0;
}

static av_cold void uninit(AVFilterContext *ctx)
{
    NlcContext *s = ctx->priv;
    nlc_encoder_destroy(s->enc);
    nlc_decoder_destroy(s->dec);
    sws_freeContext(s->to_rgb);
    sws_freeContext(s->from_rgb);
    av_freep(&s->rgb);
}

static const enum AVPixelFormat pix_fmts[] = {
    AV_PIX_FMT_RGB24, AV_PIX_FMT_GBRP, AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV444P, AV_PIX_FMT_NONE
};

static int config_input(AVFilterLink *inlink)
{
    AVFilterContext *ctx = inlink->dst;
    NlcContext *s = ctx->priv;
    const int flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;

    /* Called again when the input changes: drop what the last configuration made. */
    av_freep(&s->rgb);
    sws_freeContext(s->to_rgb);
    sws_freeContext(s->from_rgb);
    s->to_rgb = s->from_rgb = NULL;
    s->rgb = av_malloc_array(inlink->w, (size_t)inlink->h * 3);
    if (!s->rgb)
        return AVERROR(ENOMEM);
    if (inlink->format == AV_PIX_FMT_YUV420P || inlink->format == AV_PIX_FMT_YUV444P) {
        s->to_rgb = sws_getContext(inlink->w, inlink->h, inlink->format, inlink->w, inlink->h,
                                   AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
        s->from_rgb = sws_getContext(inlink->w, inlink->h, AV_PIX_FMT_RGB24, inlink->w, inlink->h,
                                     inlink->format, flags, NULL, NULL, NULL);
        if (!s->to_rgb || !s->from_rgb)
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* Frame (any accepted format) -> packed RGB in s->rgb. */
static void frame_to_rgb(NlcContext *s, const AVFrame *in, int w, int h)
{
    int x, y;
    if (in->format == AV_PIX_FMT_RGB24) {
        av_image_copy_plane(s->rgb, w * 3, in->data[0], in->linesize[0], w * 3, h);
    } else if (in->format == AV_PIX_FMT_GBRP) {  /* planes: G, B, R */
        for (y = 0; y < h; y++) {
            uint8_t *d = s->rgb + (size_t)y * w * 3;
            const uint8_t *g = in->data[0] + (ptrdiff_t)y * in->linesize[0];
            const uint8_t *b = in->data[1] + (ptrdiff_t)y * in->linesize[1];
            const uint8_t *r = in->data[2] + (ptrdiff_t)y * in->linesize[2];
            for (x = 0; x < w; x++) {
                d[3 * x] = r[x];
                d[3 * x + 1] = g[x];
                d[3 * x + 2] = b[x];
            }
        }
    } else {
        uint8_t *dst[4] = { s->rgb };
        int dst_stride[4] = { w * 3 };
        sws_scale(s->to_rgb, (const uint8_t * const *)in->data, in->linesize, 0, h, dst, dst_stride);
    }
}

/* Packed RGB -> frame of the input's format. */
static void rgb_to_frame(NlcContext *s, const uint8_t *rgb, AVFrame *out, int w, int h)
{
    int x, y;
    if (out->format == AV_PIX_FMT_RGB24) {
        av_image_copy_plane(out->data[0], out->linesize[0], rgb, w * 3, w * 3, h);
    } else if (out->format == AV_PIX_FMT_GBRP) {
        for (y = 0; y < h; y++) {
            const uint8_t *p = rgb + (size_t)y * w * 3;
            uint8_t *g = out->data[0] + (ptrdiff_t)y * out->linesize[0];
            uint8_t *b = out->data[1] + (ptrdiff_t)y * out->linesize[1];
            uint8_t *r = out->data[2] + (ptrdiff_t)y * out->linesize[2];
            for (x = 0; x < w; x++) {
                r[x] = p[3 * x];
                g[x] = p[3 * x + 1];
                b[x] = p[3 * x + 2];
            }
        }
    } else {
        const uint8_t *src[4] = { rgb };
        int src_stride[4] = { w * 3 };
        sws_scale(s->from_rgb, src, src_stride, 0, h, out->data, out->linesize);
    }
}

/* Writes a frame's stream: to a temporary name in the same folder, then renamed. */
static int write_stream(AVFilterContext *ctx, const char *pattern, int64_t number,
                        const uint8_t *data, size_t size)
{
    char path[4096];
    nlc_status st;
    if (frame_path(path, sizeof(path), pattern, number) < 0) {
        av_log(ctx, AV_LOG_ERROR, "streams=%s: not a usable pattern (one %%d or %%0Nd)\n", pattern);
        return AVERROR(EINVAL);
    }
    /* libnlc's writer: an unpredictable temporary name, no handle left open on a short
     * write, the target's mode and links kept, devices written directly. */
    if ((st = nlc_write_file(path, data, size)) != NLC_OK)
        return nlc_error(ctx, st, "cannot write the frame's stream");
    return 0;
}

static int filter_frame(AVFilterLink *inlink, AVFrame *in)
{
    AVFilterContext *ctx = inlink->dst;
    NlcContext *s = ctx->priv;
    AVFilterLink *outlink = ctx->outputs[0];
    const int w = inlink->w, h = inlink->h;
    uint8_t *stream = NULL, *decoded = NULL;
    size_t size = 0;
    int dw, dh, dc, ret;
    nlc_status st;
    AVFrame *out;
    char value[64];

    /* The buffers were sized for the link; a frame of another size is refused rather than
     * read past (FFmpeg reconfigures the filter when a stream's size changes). */
    if (in->width != w || in->height != h) {
        av_log(ctx, AV_LOG_ERROR, "frame size %dx%d differs from the configured %dx%d\n",
               in->width, in->height, w, h);
        av_frame_free(&in);
        return AVERROR(EINVAL);
    }
    frame_to_rgb(s, in, w, h);
    st = nlc_encode(s->enc, s->rgb, w, h, 3, (size_t)w * 3, s->quality, &stream, &size);
    if (st != NLC_OK) {
        av_frame_free(&in);
        return nlc_error(ctx, st, "nlc encode failed");
    }
    s->frame_number++;
    if (s->streams && (ret = write_stream(ctx, s->streams, s->frame_number, stream, size)) < 0)
        goto fail;
    st = nlc_decode(s->dec, stream, size, &decoded, &dw, &dh, &dc);
    if (st != NLC_OK) {
        ret = nlc_error(ctx, st, "nlc decode failed");
        goto fail;
    }
    if (dw != w || dh != h || dc != 3) {
        av_log(ctx, AV_LOG_ERROR, "nlc decoded a %dx%dx%d image for a %dx%d frame\n", dw, dh, dc, w, h);
        ret = AVERROR_BUG;
        goto fail;
    }
    out = ff_get_video_buffer(outlink, w, h);
    if (!out) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    av_frame_copy_props(out, in);
    rgb_to_frame(s, decoded, out, w, h);

    snprintf(value, sizeof(value), "%zu", size);
    av_dict_set(&out->metadata, "lavfi.nlc.bytes", value, 0);
    snprintf(value, sizeof(value), "%.6f", 8.0 * size / ((double)w * h));
    av_dict_set(&out->metadata, "lavfi.nlc.bpp", value, 0);
    snprintf(value, sizeof(value), "%.4f", nlc_psnr(s->rgb, decoded, (size_t)w * h * 3));
    av_dict_set(&out->metadata, "lavfi.nlc.psnr", value, 0);

    nlc_free(stream);
    nlc_free(decoded);
    av_frame_free(&in);
    return ff_filter_frame(outlink, out);

fail:
    nlc_free(stream);
    nlc_free(decoded);
    av_frame_free(&in);
    return ret;
}

static const AVFilterPad nlc_inputs[] = {
    {
        .name         = "default",
        .type         = AVMEDIA_TYPE_VIDEO,
        .filter_frame = filter_frame,
        .config_props = config_input,
    },
};

static const AVFilterPad nlc_outputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_VIDEO,
    },
};

const AVFilter ff_vf_nlc = {
    .name          = "nlc",
    .description   = NULL_IF_CONFIG_SMALL("Pass frames through the nlc neural image codec."),
    .priv_size     = sizeof(NlcContext),
    .priv_class    = &nlc_class,
    .init          = init,
    .uninit        = uninit,
    FILTER_INPUTS(nlc_inputs),
    FILTER_OUTPUTS(nlc_outputs),
    FILTER_PIXFMTS_ARRAY(pix_fmts),
};

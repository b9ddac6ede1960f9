/*
 * libnlc encoder and decoder: stores nlc streams as video frames (one intra-coded .nlc
 * stream per packet) in Matroska ("V_NLC") or NUT (fourcc NLCI). Part of nlc (not of
 * FFmpeg): copied into an FFmpeg source tree by nlc's ffmpeg/build.sh.
 *
 *   ffmpeg -i in.mp4 -c:v libnlc -q:v Q out.mkv      (or -quality Q; -model PATH)
 *   ffmpeg -i out.mkv out%04d.png
 */

#include <nlc/nlc.h>

#include "libavutil/imgutils.h"
#include "libavutil/internal.h"
#include "libavutil/opt.h"
#include "avcodec.h"
#include "codec_internal.h"
#include "encode.h"
#include "internal.h"

static int nlc_averror(void *log, nlc_status st, const char *what)
{
    av_log(log, AV_LOG_ERROR, "%s: %s\n", what, nlc_last_error());
    switch (st) {
    case NLC_ERROR_MEMORY: return AVERROR(ENOMEM);
    case NLC_ERROR_STREAM: return AVERROR_INVALIDDATA;
    case NLC_ERROR_INTERNAL: return AVERROR_EXTERNAL;
    default: return AVERROR(EINVAL);
    }
}

#define OFFSET_E(x) offsetof(LibNlcEncodeContext, x)
#define OFFSET_D(x) offsetof(LibNlcDecodeContext, x)
#define VE AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_ENCODING_PARAM
#define VD AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_DECODING_PARAM

/* ---- encoder ------------------------------------------------------------------------- */

typedef struct LibNlcEncodeContext {
    const AVClass *class;
    double quality;  /* -quality, or -q:v (global_quality), which takes precedence */
    char *model;
    nlc_encoder *enc;
} LibNlcEncodeContext;

static av_cold int libnlc_encode_init(AVCodecContext *avctx)
{
    LibNlcEncodeContext *s = avctx->priv_data;
    nlc_status st;
    double max_q;

    if (avctx->flags & AV_CODEC_FLAG_QSCALE)
        s->quality = avctx->global_quality / (double)FF_QP2LAMBDA;
    if ((st = nlc_encoder_create(s->model, &s->enc)) != NLC_OK)
        return nlc_averror(avctx, st, "cannot load the nlc model");
    max_q = nlc_encoder_max_quality(s->enc);
    if (s->quality < 0 || s->quality > max_q) {
        av_log(avctx, AV_LOG_ERROR, "quality %g is outside the model's range [0, %g]\n",
               s->quality, max_q);
        return AVERROR(EINVAL);
    }
    return 0;
}

static int libnlc_encode_frame(AVCodecContext *avctx, AVPacket *pkt, const AVFrame *frame,
                               int *got_packet)
{
    LibNlcEncodeContext *s = avctx->priv_data;
    const int channels = avctx->pix_fmt == AV_PIX_FMT_GRAY8 ? 1 : 3;
    const int row = avctx->width * channels;
    const uint8_t *pixels = frame->data[0];
    uint8_t *packed = NULL, *stream = NULL;
    size_t size = 0;

    int ret;
    nlc_status st;
    /* The codec context's size is what the pixels are read with: refuse a frame of another. */
    if (frame->width != avctx->width || frame->height != avctx->height) {
        av_log(avctx, AV_LOG_ERROR, "frame size %dx%d differs from the encoder's %dx%d\n",
               frame->width, frame->height, avctx->width, avctx->height);
        return AVERROR(EINVAL);
    }
    if (frame->linesize[0] < 0) {  /* bottom-up frame (e.g. after vflip): pack it top-down */
        packed = av_malloc((size_t)row * avctx->height);
        if (!packed)
            return AVERROR(ENOMEM);
        av_image_copy_plane(packed, row, frame->data[0], frame->linesize[0], row, avctx->height);
        pixels = packed;
    }
    st = nlc_encode(s->enc, pixels, avctx->width, avctx->height, channels,
                    packed ? (size_t)row : (size_t)frame->linesize[0], s->quality, &stream, &size);
    av_free(packed);
    if (st != NLC_OK)
        return nlc_averror(avctx, st, "nlc encode failed");
    if (size > INT_MAX) {
        nlc_free(stream);
        return AVERROR(ERANGE);
    }
    ret = ff_get_encode_buffer(avctx, pkt, (int64_t)size, 0);
    if (ret >= 0) {
        memcpy(pkt->data, stream, size);
        pkt->flags |= AV_PKT_FLAG_KEY;
        *got_packet = 1;
    }
    nlc_free(stream);
    return ret;
}

static av_cold int libnlc_encode_close(AVCodecContext *avctx)
{
    LibNlcEncodeContext *s = avctx->priv_data;
    nlc_encoder_destroy(s->enc);
    s->enc = NULL;
    return 0;
}

static const AVOption libnlc_encode_options[] = {
    { "quality", "nlc quality, continuous over the model's range (-q:v overrides)", OFFSET_E(quality), AV_OPT_TYPE_DOUBLE, { .dbl = 3 }, 0, 1000, VE },
    { "model", "model file (.nlcm); default: $NLC_MODEL, else the installed model", OFFSET_E(model), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { NULL },
};

static const AVClass libnlc_encode_class = {
    .class_name = "libnlc encoder",
    .item_name  = av_default_item_name,
    .option     = libnlc_encode_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_libnlc_encoder = {
    .p.name         = "libnlc",
    .p.long_name    = NULL_IF_CONFIG_SMALL("libnlc neural image codec"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_NLC,
    .priv_data_size = sizeof(LibNlcEncodeContext),
    .init           = libnlc_encode_init,
    FF_CODEC_ENCODE_CB(libnlc_encode_frame),
    .close          = libnlc_encode_close,
    .p.capabilities = AV_CODEC_CAP_DR1 | AV_CODEC_CAP_OTHER_THREADS,
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP,
    .p.pix_fmts     = (const enum AVPixelFormat[]) {
        AV_PIX_FMT_RGB24, AV_PIX_FMT_GRAY8, AV_PIX_FMT_NONE
    },
    .p.priv_class   = &libnlc_encode_class,
    .p.wrapper_name = "libnlc",
};

/* ---- decoder ------------------------------------------------------------------------- */

typedef struct LibNlcDecodeContext {
    const AVClass *class;
    char *model;
    nlc_decoder *dec;
} LibNlcDecodeContext;

static av_cold int libnlc_decode_init(AVCodecContext *avctx)
{
    LibNlcDecodeContext *s = avctx->priv_data;
    nlc_status st = nlc_decoder_create(s->model, &s->dec);
    if (st != NLC_OK)
        return nlc_averror(avctx, st, "cannot load the nlc model");
    return 0;
}

static int libnlc_decode_frame(AVCodecContext *avctx, AVFrame *frame, int *got_frame,
                               AVPacket *pkt)
{
    LibNlcDecodeContext *s = avctx->priv_data;
    uint8_t *pixels = NULL;
    int w = 0, h = 0, c = 0, ret;
    nlc_status st = nlc_decode(s->dec, pkt->data, pkt->size, &pixels, &w, &h, &c);
    if (st != NLC_OK)
        return nlc_averror(avctx, st, "nlc decode failed");
    if ((ret = ff_set_dimensions(avctx, w, h)) < 0)
        goto end;
    avctx->pix_fmt = c == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
    if ((ret = ff_get_buffer(avctx, frame, 0)) < 0)
        goto end;
    av_image_copy_plane(frame->data[0], frame->linesize[0], pixels, w * c, w * c, h);
    frame->pict_type = AV_PICTURE_TYPE_I;
    frame->key_frame = 1;
    *got_frame = 1;
    ret = pkt->size;
end:
    nlc_free(pixels);
    return ret;
}

static av_cold int libnlc_decode_close(AVCodecContext *avctx)
{
    LibNlcDecodeContext *s = avctx->priv_data;
    nlc_decoder_destroy(s->dec);
    s->dec = NULL;
    return 0;
}

static const AVOption libnlc_decode_options[] = {
    { "model", "model file (.nlcm); default: $NLC_MODEL, else the installed model", OFFSET_D(model), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VD },
    { NULL },
};

static const AVClass libnlc_decode_class = {
    .class_name = "libnlc decoder",
    .item_name  = av_default_item_name,
    .option     = libnlc_decode_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_libnlc_decoder = {
    .p.name         = "libnlc",
    .p.long_name    = NULL_IF_CONFIG_SMALL("libnlc neural image codec"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_NLC,
    .priv_data_size = sizeof(LibNlcDecodeContext),
    .init           = libnlc_decode_init,
    FF_CODEC_DECODE_CB(libnlc_decode_frame),
    .close          = libnlc_decode_close,
    .p.capabilities = AV_CODEC_CAP_DR1 | AV_CODEC_CAP_OTHER_THREADS,
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP,
    .p.priv_class   = &libnlc_decode_class,
    .p.wrapper_name = "libnlc",
};

#include "datasets/media/media_reader.h"

#include <algorithm>
#include <cmath>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include "core/input_error.h"
#include "datasets/media/ffmpeg_error.h"

namespace avqa::media {
namespace {

struct FormatCloser {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecFreer {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFreer {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct SwrFreer {
  void operator()(SwrContext* s) const { swr_free(&s); }
};

using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;

[[noreturn]] void bad_file(const std::filesystem::path& path, const std::string& what) {
  throw core::InputError({path.string(), std::nullopt, ""}, what);
}

CodecPtr open_decoder(const std::filesystem::path& path, AVStream* stream) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (codec == nullptr) bad_file(path, "no decoder for stream " + std::to_string(stream->index));
  CodecPtr ctx(avcodec_alloc_context3(codec));
  if (avcodec_parameters_to_context(ctx.get(), stream->codecpar) < 0) bad_file(path, "bad stream parameters");
  ctx->thread_count = 1;
  ctx->pkt_timebase = stream->time_base;
  if (const int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0) {
    bad_file(path, "cannot open decoder: " + ffmpeg_error_text(err));
  }
  return ctx;
}

}  // namespace

DecodedMedia decode_media(const std::filesystem::path& path, const DecodeOptions& options) {
  limit_ffmpeg_logging();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) bad_file(path, "no such file");
  if (std::filesystem::file_size(path, ec) == 0) bad_file(path, "file is empty");

  AVFormatContext* raw_format = nullptr;
  if (const int err = avformat_open_input(&raw_format, path.c_str(), nullptr, nullptr); err < 0) {
    bad_file(path, "not a readable media file: " + ffmpeg_error_text(err));
  }
  std::unique_ptr<AVFormatContext, FormatCloser> format(raw_format);
  if (const int err = avformat_find_stream_info(format.get(), nullptr); err < 0) {
    bad_file(path, "cannot read stream information: " + ffmpeg_error_text(err));
  }

  DecodedMedia media;
  media.duration = format->duration > 0 ? static_cast<double>(format->duration) / AV_TIME_BASE : 0.0;
  const int video_index = options.video ? av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0) : -1;
  const int audio_index = options.audio ? av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0) : -1;
  if (options.video && video_index < 0) bad_file(path, "no video stream");

  CodecPtr video;
  CodecPtr audio;
  std::unique_ptr<SwsContext, SwsFreer> scaler;
  std::unique_ptr<SwrContext, SwrFreer> resampler;
  AVStream* video_stream = nullptr;
  if (video_index >= 0) {
    video_stream = format->streams[video_index];
    video = open_decoder(path, video_stream);
    media.width = video->width;
    media.height = video->height;
    const AVRational rate = video_stream->avg_frame_rate;
    media.frame_rate = rate.den > 0 ? av_q2d(rate) : 0.0;
  }
  if (audio_index >= 0) {
    audio = open_decoder(path, format->streams[audio_index]);
    media.has_audio = true;
    media.sample_rate = options.audio_sample_rate;
    AVChannelLayout mono;
    av_channel_layout_default(&mono, 1);
    SwrContext* swr = nullptr;
    if (swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, options.audio_sample_rate, &audio->ch_layout,
                            audio->sample_fmt, audio->sample_rate, 0, nullptr) < 0 ||
        swr_init(swr) < 0) {
      swr_free(&swr);
      bad_file(path, "cannot set up audio resampling");
    }
    resampler.reset(swr);
  }

  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  std::unique_ptr<AVFrame, FrameFreer> rgb_frame;
  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());

  auto take_video_frame = [&] {
    if (!scaler) {
      // Bit-exact mode and an aligned target: the same file always decodes to the same pixels.
      scaler.reset(sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), media.width,
                                  media.height, AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                                  nullptr, nullptr, nullptr));
      if (!scaler) bad_file(path, "cannot convert its pixel format to RGB");
      rgb_frame.reset(av_frame_alloc());
      rgb_frame->format = AV_PIX_FMT_RGB24;
      rgb_frame->width = media.width;
      rgb_frame->height = media.height;
      if (av_frame_get_buffer(rgb_frame.get(), 64) < 0) bad_file(path, "out of memory for a frame");
    }
    sws_scale(scaler.get(), frame->data, frame->linesize, 0, frame->height, rgb_frame->data, rgb_frame->linesize);
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(media.width) * media.height * 3);
    for (int y = 0; y < media.height; ++y) {
      std::copy_n(rgb_frame->data[0] + y * rgb_frame->linesize[0], media.width * 3,
                  rgb.data() + static_cast<std::size_t>(y) * media.width * 3);
    }
    media.frames.push_back(std::move(rgb));
    const std::int64_t pts = frame->best_effort_timestamp;
    media.frame_times.push_back(pts == AV_NOPTS_VALUE ? 0.0 : static_cast<double>(pts) * av_q2d(video_stream->time_base));
  };
  auto take_audio_frame = [&] {
    const int capacity = swr_get_out_samples(resampler.get(), frame->nb_samples);
    const std::size_t old_size = media.samples.size();
    media.samples.resize(old_size + static_cast<std::size_t>(std::max(0, capacity)));
    std::uint8_t* out[1] = {reinterpret_cast<std::uint8_t*>(media.samples.data() + old_size)};
    const int got = swr_convert(resampler.get(), out, capacity, const_cast<const std::uint8_t**>(frame->extended_data),
                                frame->nb_samples);
    if (got < 0) bad_file(path, "audio resampling failed");
    media.samples.resize(old_size + static_cast<std::size_t>(got));
  };
  auto receive = [&](AVCodecContext* codec, bool is_video) {
    while (true) {
      const int got = avcodec_receive_frame(codec, frame.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      if (got < 0) bad_file(path, std::string("corrupt ") + (is_video ? "video" : "audio") + ": " + ffmpeg_error_text(got));
      if (is_video) {
        take_video_frame();
      } else {
        take_audio_frame();
      }
      av_frame_unref(frame.get());
    }
  };

  while (true) {
    const int read = av_read_frame(format.get(), packet.get());
    if (read == AVERROR_EOF) break;
    if (read < 0) bad_file(path, "read error: " + ffmpeg_error_text(read));
    AVCodecContext* codec = packet->stream_index == video_index   ? video.get()
                            : packet->stream_index == audio_index ? audio.get()
                                                                  : nullptr;
    if (codec != nullptr) {
      if (const int sent = avcodec_send_packet(codec, packet.get()); sent < 0 && sent != AVERROR(EAGAIN)) {
        bad_file(path, "corrupt packet: " + ffmpeg_error_text(sent));
      }
      receive(codec, codec == video.get());
    }
    av_packet_unref(packet.get());
  }
  if (video) {
    avcodec_send_packet(video.get(), nullptr);
    receive(video.get(), true);
  }
  if (audio) {
    avcodec_send_packet(audio.get(), nullptr);
    receive(audio.get(), false);
    // Drain what the resampler still holds.
    const int pending = swr_get_out_samples(resampler.get(), 0);
    if (pending > 0) {
      const std::size_t old_size = media.samples.size();
      media.samples.resize(old_size + static_cast<std::size_t>(pending));
      std::uint8_t* out[1] = {reinterpret_cast<std::uint8_t*>(media.samples.data() + old_size)};
      const int got = swr_convert(resampler.get(), out, pending, nullptr, 0);
      media.samples.resize(old_size + static_cast<std::size_t>(std::max(0, got)));
    }
  }
  if (audio_index >= 0) {
    // AAC codes whole 1024-sample frames; the stream's duration says where the signal ends.
    const AVStream* stream = format->streams[audio_index];
    if (stream->duration > 0) {
      const auto length = static_cast<std::size_t>(
          std::llround(static_cast<double>(stream->duration) * av_q2d(stream->time_base) * options.audio_sample_rate));
      if (length < media.samples.size()) media.samples.resize(length);
    }
  }
  if (options.video && media.frames.empty()) bad_file(path, "no decodable video frame");
  return media;
}

}  // namespace avqa::media

#include "datasets/media/media_reader.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
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
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;

[[noreturn]] void bad_file(const std::filesystem::path& path, const std::string& what) {
  throw core::InputError({path.string(), std::nullopt, ""}, what);
}

CodecPtr open_decoder(const std::filesystem::path& path, AVStream* stream) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (codec == nullptr) bad_file(path, "no decoder for stream " + std::to_string(stream->index));
  CodecPtr ctx(avcodec_alloc_context3(codec));
  if (avcodec_parameters_to_context(ctx.get(), stream->codecpar) < 0)
    bad_file(path, "bad stream parameters");
  ctx->thread_count = 1;
  ctx->pkt_timebase = stream->time_base;
  if (const int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0) {
    bad_file(path, "cannot open decoder: " + ffmpeg_error_text(err));
  }
  return ctx;
}

// Converts decoded frames to tightly packed RGB24 at a chosen size. Bit-exact mode and an
// aligned staging frame: the same file always gives the same pixels.
class RgbConverter {
 public:
  std::vector<std::uint8_t> convert(const std::filesystem::path& path,
                                    const AVFrame* frame,
                                    int width,
                                    int height) {
    if (!scaler_) {
      scaler_.reset(sws_getContext(frame->width, frame->height,
                                   static_cast<AVPixelFormat>(frame->format), width, height,
                                   AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                                   nullptr, nullptr, nullptr));
      if (!scaler_) bad_file(path, "cannot convert its pixel format to RGB");
      staging_.reset(av_frame_alloc());
      staging_->format = AV_PIX_FMT_RGB24;
      staging_->width = width;
      staging_->height = height;
      if (av_frame_get_buffer(staging_.get(), 64) < 0) bad_file(path, "out of memory for a frame");
    }
    sws_scale(scaler_.get(), frame->data, frame->linesize, 0, frame->height, staging_->data,
              staging_->linesize);
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
    for (int y = 0; y < height; ++y) {
      std::copy_n(staging_->data[0] + y * staging_->linesize[0], width * 3,
                  rgb.data() + static_cast<std::size_t>(y) * width * 3);
    }
    return rgb;
  }

 private:
  std::unique_ptr<SwsContext, SwsFreer> scaler_;
  FramePtr staging_;
};

// One pass over a file: video frames go to `on_frame` with their time in seconds, audio is
// resampled to mono float and collected.
struct StreamInfo {
  int width = 0;
  int height = 0;
  double frame_rate = 0;
  double duration = 0;
  bool has_audio = false;
  int rotation = 0;  // clockwise degrees to display upright
};

StreamInfo decode_streams(const std::filesystem::path& path,
                          bool want_video,
                          bool want_audio,
                          int audio_rate,
                          const std::function<void(const AVFrame*, double, double)>& on_frame,
                          std::vector<float>* audio_out) {
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

  StreamInfo info;
  info.duration = format->duration > 0 ? static_cast<double>(format->duration) / AV_TIME_BASE : 0.0;
  const int video_index =
      want_video ? av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0) : -1;
  const int audio_index =
      want_audio ? av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0) : -1;
  if (want_video && video_index < 0) bad_file(path, "no video stream");

  CodecPtr video;
  CodecPtr audio;
  std::unique_ptr<SwrContext, SwrFreer> resampler;
  AVStream* video_stream = nullptr;
  if (video_index >= 0) {
    video_stream = format->streams[video_index];
    video = open_decoder(path, video_stream);
    info.width = video->width;
    info.height = video->height;
    const AVRational rate = video_stream->avg_frame_rate;
    info.frame_rate = rate.den > 0 ? av_q2d(rate) : 0.0;
    if (const std::uint8_t* matrix =
            av_stream_get_side_data(video_stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr)) {
      // av_display_rotation_get gives the counter-clockwise angle; round to quarter turns.
      const double angle = -av_display_rotation_get(reinterpret_cast<const std::int32_t*>(matrix));
      info.rotation = ((static_cast<int>(std::lround(angle / 90.0)) % 4) + 4) % 4 * 90;
    }
  }
  if (audio_index >= 0) {
    audio = open_decoder(path, format->streams[audio_index]);
    info.has_audio = true;
    AVChannelLayout mono;
    av_channel_layout_default(&mono, 1);
    SwrContext* swr = nullptr;
    if (swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, audio_rate, &audio->ch_layout,
                            audio->sample_fmt, audio->sample_rate, 0, nullptr) < 0 ||
        swr_init(swr) < 0) {
      swr_free(&swr);
      bad_file(path, "cannot set up audio resampling");
    }
    resampler.reset(swr);
  }

  FramePtr frame(av_frame_alloc());
  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
  auto append_audio = [&](const std::uint8_t** input, int count) {
    const int capacity = swr_get_out_samples(resampler.get(), count);
    if (capacity <= 0) return;
    const std::size_t old_size = audio_out->size();
    audio_out->resize(old_size + static_cast<std::size_t>(capacity));
    std::uint8_t* out[1] = {reinterpret_cast<std::uint8_t*>(audio_out->data() + old_size)};
    const int got = swr_convert(resampler.get(), out, capacity, input, count);
    if (got < 0) bad_file(path, "audio resampling failed");
    audio_out->resize(old_size + static_cast<std::size_t>(got));
  };
  auto receive = [&](AVCodecContext* codec, bool is_video) {
    while (true) {
      const int got = avcodec_receive_frame(codec, frame.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      if (got < 0)
        bad_file(path, std::string("corrupt ") + (is_video ? "video" : "audio") + ": " +
                           ffmpeg_error_text(got));
      if (is_video) {
        const std::int64_t pts = frame->best_effort_timestamp;
        const double time_base = av_q2d(video_stream->time_base);
        // How long this frame shows: its own duration where the file says (variable frame rates).
        const double shown = frame->pkt_duration > 0
                                 ? static_cast<double>(frame->pkt_duration) * time_base
                             : info.frame_rate > 0 ? 1.0 / info.frame_rate
                                                   : 0.0;
        on_frame(frame.get(), pts == AV_NOPTS_VALUE ? 0.0 : static_cast<double>(pts) * time_base,
                 shown);
      } else if (audio_out != nullptr) {
        append_audio(const_cast<const std::uint8_t**>(frame->extended_data), frame->nb_samples);
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
      // A full decoder answers EAGAIN: take its frames out, then the packet goes in.
      int sent = avcodec_send_packet(codec, packet.get());
      if (sent == AVERROR(EAGAIN)) {
        receive(codec, codec == video.get());
        sent = avcodec_send_packet(codec, packet.get());
      }
      if (sent < 0) bad_file(path, "corrupt packet: " + ffmpeg_error_text(sent));
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
    if (audio_out != nullptr) append_audio(nullptr, 0);  // drain the resampler
    // AAC codes whole 1024-sample frames; the stream's duration says where the signal ends.
    const AVStream* stream = format->streams[audio_index];
    if (audio_out != nullptr && stream->duration > 0) {
      const auto length = static_cast<std::size_t>(std::llround(
          static_cast<double>(stream->duration) * av_q2d(stream->time_base) * audio_rate));
      if (length < audio_out->size()) audio_out->resize(length);
    }
  }
  return info;
}

// Rotates a packed RGB image by quarter turns clockwise.
std::vector<std::uint8_t> rotate(const std::vector<std::uint8_t>& rgb,
                                 int width,
                                 int height,
                                 int degrees) {
  if (degrees == 0) return rgb;
  const int out_w = degrees == 180 ? width : height;
  const int out_h = degrees == 180 ? height : width;
  std::vector<std::uint8_t> out(rgb.size());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      int nx = x;
      int ny = y;
      if (degrees == 90) {
        nx = height - 1 - y;
        ny = x;
      } else if (degrees == 180) {
        nx = width - 1 - x;
        ny = height - 1 - y;
      } else {  // 270
        nx = y;
        ny = width - 1 - x;
      }
      std::copy_n(&rgb[(static_cast<std::size_t>(y) * width + x) * 3], 3,
                  &out[(static_cast<std::size_t>(ny) * out_w + nx) * 3]);
    }
  }
  (void)out_h;
  return out;
}

}  // namespace

DecodedMedia decode_media(const std::filesystem::path& path, const DecodeOptions& options) {
  DecodedMedia media;
  RgbConverter converter;
  std::vector<float> samples;
  const StreamInfo info = decode_streams(
      path, options.video, options.audio, options.audio_sample_rate,
      [&](const AVFrame* frame, double t, double /*shown*/) {
        media.frames.push_back(converter.convert(path, frame, frame->width, frame->height));
        media.frame_times.push_back(t);
      },
      &samples);
  media.width = info.width;
  media.height = info.height;
  media.frame_rate = info.frame_rate;
  media.duration = info.duration;
  media.has_audio = info.has_audio;
  media.sample_rate = info.has_audio ? options.audio_sample_rate : 0;
  media.samples = std::move(samples);
  if (options.video && media.frames.empty()) bad_file(path, "no decodable video frame");
  return media;
}

SampledClip sample_clip(const std::filesystem::path& path, const SamplingOptions& options) {
  if (options.segments <= 0 || options.fps <= 0 || options.frame_size <= 0 ||
      options.sample_rate <= 0) {
    throw std::invalid_argument(
        "sampling needs positive segments, fps, frame size and sample rate");
  }
  SampledClip clip;
  clip.segments = options.segments;
  clip.frame_size = options.frame_size;
  clip.samples_per_segment = static_cast<int>(std::lround(options.sample_rate / options.fps));
  const std::size_t frame_bytes =
      static_cast<std::size_t>(options.frame_size) * options.frame_size * 3;
  std::vector<std::vector<std::uint8_t>> picked(static_cast<std::size_t>(options.segments));

  // Streaming selection: segment i takes the frame nearest (i + 0.5) / fps; the previous frame
  // is kept as a reference until the next one shows which of the two is nearer.
  RgbConverter converter;
  FramePtr previous(av_frame_alloc());
  double previous_time = -1;
  int next = 0;
  double last_end = 0;
  auto centre = [&](int i) { return (i + 0.5) / options.fps; };
  auto take = [&](const AVFrame* frame) {
    return converter.convert(path, frame, options.frame_size, options.frame_size);
  };
  std::vector<float> samples;
  const StreamInfo info = decode_streams(
      path, true, true, options.sample_rate,
      [&](const AVFrame* frame, double t, double shown) {
        last_end = std::max(last_end, t + shown);
        while (next < options.segments && centre(next) <= t) {
          const bool use_previous =
              previous_time >= 0 && centre(next) - previous_time < t - centre(next);
          picked[static_cast<std::size_t>(next)] =
              use_previous ? take(previous.get()) : take(frame);
          ++next;
        }
        av_frame_unref(previous.get());
        av_frame_ref(previous.get(), frame);
        previous_time = t;
      },
      &samples);
  if (previous_time < 0) bad_file(path, "no decodable video frame");
  // The video ends when its last frame stops showing; the container may say less (or more,
  // when its audio runs longer).
  clip.real_seconds = std::max(info.duration, last_end);
  // Segments after the last frame: the last frame ends the video, and the rule repeats the
  // last second, i.e. the frame sampled for the last whole second of the video.
  const int real_segments =
      std::max(1, std::min(options.segments,
                           static_cast<int>(std::floor(clip.real_seconds * options.fps + 1e-9))));
  if (next < options.segments) {
    std::vector<std::uint8_t> tail = take(previous.get());
    for (int i = next; i < options.segments; ++i)
      picked[static_cast<std::size_t>(i)] = tail;
  }
  for (int i = real_segments; i < options.segments; ++i)
    picked[static_cast<std::size_t>(i)] = picked[static_cast<std::size_t>(real_segments - 1)];

  clip.rotation = info.rotation;
  clip.frames.reserve(frame_bytes * static_cast<std::size_t>(options.segments));
  for (const auto& f : picked) {
    const auto upright = rotate(f, options.frame_size, options.frame_size, info.rotation);
    clip.frames.insert(clip.frames.end(), upright.begin(), upright.end());
  }

  clip.has_audio = info.has_audio && !samples.empty();
  const auto spp = static_cast<std::size_t>(clip.samples_per_segment);
  clip.audio.assign(spp * static_cast<std::size_t>(options.segments), 0.f);
  if (clip.has_audio) {
    const std::size_t whole = samples.size() / spp;  // complete segments of audio
    for (int i = 0; i < options.segments; ++i) {
      // Past the end of the audio, repeat its last complete segment (or what there is).
      const std::size_t source = static_cast<std::size_t>(i) < whole ? static_cast<std::size_t>(i)
                                                                     : (whole > 0 ? whole - 1 : 0);
      const std::size_t begin = source * spp;
      const std::size_t count = std::min(spp, samples.size() - std::min(samples.size(), begin));
      std::copy_n(samples.begin() + static_cast<std::ptrdiff_t>(begin), count,
                  clip.audio.begin() + static_cast<std::ptrdiff_t>(i * spp));
    }
  }
  return clip;
}

}  // namespace avqa::media

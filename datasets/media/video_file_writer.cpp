#include "datasets/media/video_file_writer.h"

#include <algorithm>
#include <stdexcept>
#include <unistd.h>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "datasets/media/ffmpeg_error.h"

namespace avqa::media {
namespace {

// x264 reads a little past the picture (row padding, rows below it); left uninitialised, those
// bytes make identical frames encode differently from run to run.
void zero_buffers(AVFrame* frame) {
  for (AVBufferRef* buffer : frame->buf) {
    if (buffer != nullptr) std::fill_n(buffer->data, buffer->size, std::uint8_t{0});
  }
}

}  // namespace

struct VideoFileWriter::State {
  std::filesystem::path path;
  std::string temp_path;
  VideoWriterOptions options;
  AVFormatContext* format = nullptr;
  AVCodecContext* video = nullptr;
  AVCodecContext* audio = nullptr;
  AVStream* video_stream = nullptr;
  AVStream* audio_stream = nullptr;
  SwsContext* scaler = nullptr;
  AVFrame* rgb = nullptr;
  AVFrame* yuv = nullptr;
  AVFrame* pcm = nullptr;
  AVPacket* packet = nullptr;
  std::vector<float> pending_audio;
  std::int64_t next_video_pts = 0;
  std::int64_t next_audio_pts = 0;
  bool header_written = false;
  bool finished = false;

  ~State() {
    sws_freeContext(scaler);
    av_frame_free(&rgb);
    av_frame_free(&yuv);
    av_frame_free(&pcm);
    av_packet_free(&packet);
    avcodec_free_context(&video);
    avcodec_free_context(&audio);
    if (format != nullptr) {
      if (format->pb != nullptr) avio_closep(&format->pb);
      avformat_free_context(format);
    }
    if (!finished && !temp_path.empty()) ::unlink(temp_path.c_str());
  }

  void check(int code, const char* what) const {
    throw_if_error(code, path.string() + ": " + what);
  }

  void drain(AVCodecContext* codec, AVStream* stream) {
    while (true) {
      const int got = avcodec_receive_packet(codec, packet);
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      check(got, "encoding failed");
      // x264 leaves durations unset; without them the MP4 edit list ends one frame early and
      // every reader (ffmpeg included) loses the last frame.
      if (packet->duration == 0 && codec == video) packet->duration = 1;
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      check(av_interleaved_write_frame(format, packet), "writing a packet failed");
    }
  }

  void encode(AVCodecContext* codec, AVStream* stream, AVFrame* frame) {
    check(avcodec_send_frame(codec, frame), "sending a frame to the encoder failed");
    drain(codec, stream);
  }

  void encode_audio_frames(bool flush_partial) {
    const int frame_size = audio->frame_size;
    std::size_t offset = 0;
    while (pending_audio.size() - offset >= static_cast<std::size_t>(frame_size) ||
           (flush_partial && offset < pending_audio.size())) {
      const int n =
          static_cast<int>(std::min<std::size_t>(frame_size, pending_audio.size() - offset));
      check(av_frame_make_writable(pcm), "audio frame buffer");
      pcm->nb_samples = n;
      std::copy_n(pending_audio.data() + offset, n, reinterpret_cast<float*>(pcm->data[0]));
      pcm->pts = next_audio_pts;
      next_audio_pts += n;
      encode(audio, audio_stream, pcm);
      offset += static_cast<std::size_t>(n);
    }
    pending_audio.erase(pending_audio.begin(),
                        pending_audio.begin() + static_cast<std::ptrdiff_t>(offset));
  }
};

VideoFileWriter::VideoFileWriter(const std::filesystem::path& path,
                                 const VideoWriterOptions& options)
    : state_(std::make_unique<State>()) {
  limit_ffmpeg_logging();
  State& s = *state_;
  s.path = path;
  s.options = options;
  if (options.width <= 0 || options.height <= 0 || options.width % 2 || options.height % 2 ||
      options.fps <= 0) {
    throw std::invalid_argument(path.string() +
                                ": frame size must be positive and even, fps positive");
  }
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  s.temp_path =
      (folder / ("." + path.filename().string() + ".partial-" + std::to_string(::getpid())))
          .string();

  s.check(avformat_alloc_output_context2(&s.format, nullptr, "mp4", s.temp_path.c_str()),
          "cannot set up MP4 output");

  const AVCodec* h264 = avcodec_find_encoder_by_name("libx264");
  if (h264 == nullptr)
    throw std::runtime_error(
        "libavcodec has no libx264 encoder (install libavcodec59 from Debian)");
  s.video_stream = avformat_new_stream(s.format, nullptr);
  s.video = avcodec_alloc_context3(h264);
  s.video->width = options.width;
  s.video->height = options.height;
  s.video->pix_fmt = AV_PIX_FMT_YUV420P;
  s.video->time_base = AVRational{1, options.fps};
  s.video->framerate = AVRational{options.fps, 1};
  s.video->gop_size = options.fps * 2;
  s.video->thread_count = 1;
  if (s.format->oformat->flags & AVFMT_GLOBALHEADER) s.video->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  av_opt_set(s.video->priv_data, "preset", options.preset.c_str(), 0);
  av_opt_set(s.video->priv_data, "crf", std::to_string(options.crf).c_str(), 0);
  // x264's macroblock-tree rate control made the same frames encode differently when several
  // encoders had run in the process before (measured: the last clip of a dataset changed
  // between runs); without it the stream depends on the input alone.
  av_opt_set(s.video->priv_data, "x264-params", "mbtree=0", 0);
  s.check(avcodec_open2(s.video, h264, nullptr), "cannot open the H.264 encoder");
  s.check(avcodec_parameters_from_context(s.video_stream->codecpar, s.video),
          "video stream parameters");
  s.video_stream->time_base = s.video->time_base;
  if (options.rotation % 360 != 0) {
    auto* matrix = reinterpret_cast<std::int32_t*>(av_stream_new_side_data(
        s.video_stream, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(std::int32_t)));
    if (matrix == nullptr) throw std::runtime_error(path.string() + ": cannot store the rotation");
    // The MP4 track matrix stores the inverse transform; players turn clockwise by this much.
    av_display_rotation_set(matrix, options.rotation);
  }

  if (options.sample_rate > 0) {
    const AVCodec* aac = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (aac == nullptr) throw std::runtime_error("libavcodec has no AAC encoder");
    s.audio_stream = avformat_new_stream(s.format, nullptr);
    s.audio = avcodec_alloc_context3(aac);
    s.audio->sample_fmt = AV_SAMPLE_FMT_FLTP;
    s.audio->sample_rate = options.sample_rate;
    av_channel_layout_default(&s.audio->ch_layout, 1);
    s.audio->bit_rate = options.audio_bitrate;
    s.audio->time_base = AVRational{1, options.sample_rate};
    s.audio->thread_count = 1;
    if (s.format->oformat->flags & AVFMT_GLOBALHEADER)
      s.audio->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    s.check(avcodec_open2(s.audio, aac, nullptr), "cannot open the AAC encoder");
    s.check(avcodec_parameters_from_context(s.audio_stream->codecpar, s.audio),
            "audio stream parameters");
    s.audio_stream->time_base = s.audio->time_base;
    s.pcm = av_frame_alloc();
    s.pcm->format = AV_SAMPLE_FMT_FLTP;
    s.pcm->sample_rate = options.sample_rate;
    s.check(av_channel_layout_copy(&s.pcm->ch_layout, &s.audio->ch_layout), "audio layout");
    s.pcm->nb_samples = s.audio->frame_size;
    s.check(av_frame_get_buffer(s.pcm, 0), "audio frame buffer");
  }

  s.yuv = av_frame_alloc();
  s.yuv->format = AV_PIX_FMT_YUV420P;
  s.yuv->width = options.width;
  s.yuv->height = options.height;
  s.check(av_frame_get_buffer(s.yuv, 0), "video frame buffer");
  zero_buffers(s.yuv);
  s.scaler =
      sws_getContext(options.width, options.height, AV_PIX_FMT_RGB24, options.width, options.height,
                     AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, nullptr,
                     nullptr, nullptr);
  s.rgb = av_frame_alloc();
  s.rgb->format = AV_PIX_FMT_RGB24;
  s.rgb->width = options.width;
  s.rgb->height = options.height;
  s.check(av_frame_get_buffer(s.rgb, 64), "RGB frame buffer");
  zero_buffers(s.rgb);
  if (s.scaler == nullptr) throw std::runtime_error("cannot create the RGB to YUV converter");
  s.packet = av_packet_alloc();

  s.check(avio_open(&s.format->pb, s.temp_path.c_str(), AVIO_FLAG_WRITE), "cannot create the file");
  // Keep the muxer from writing the encoder's version string, so files differ only in content.
  s.format->flags |= AVFMT_FLAG_BITEXACT;
  s.check(avformat_write_header(s.format, nullptr), "cannot write the MP4 header");
  s.header_written = true;
}

VideoFileWriter::~VideoFileWriter() = default;

void VideoFileWriter::write_frame(const std::uint8_t* rgb, int stride) {
  State& s = *state_;
  s.check(av_frame_make_writable(s.yuv), "video frame buffer");
  for (int y = 0; y < s.options.height; ++y) {
    std::copy_n(rgb + static_cast<std::ptrdiff_t>(y) * stride, s.options.width * 3,
                s.rgb->data[0] + y * s.rgb->linesize[0]);
  }
  sws_scale(s.scaler, s.rgb->data, s.rgb->linesize, 0, s.options.height, s.yuv->data,
            s.yuv->linesize);
  s.yuv->pts = s.next_video_pts++;
  s.encode(s.video, s.video_stream, s.yuv);
}

void VideoFileWriter::write_audio(const float* samples, std::size_t count) {
  State& s = *state_;
  if (s.audio == nullptr)
    throw std::logic_error(s.path.string() + ": writer was opened without audio");
  s.pending_audio.insert(s.pending_audio.end(), samples, samples + count);
  s.encode_audio_frames(/*flush_partial=*/false);
}

void VideoFileWriter::finish() {
  State& s = *state_;
  if (s.finished) return;
  s.encode(s.video, s.video_stream, nullptr);
  if (s.audio != nullptr) {
    s.encode_audio_frames(/*flush_partial=*/true);
    s.encode(s.audio, s.audio_stream, nullptr);
  }
  s.check(av_write_trailer(s.format), "cannot write the MP4 trailer");
  s.check(avio_closep(&s.format->pb), "cannot close the file");
  if (std::rename(s.temp_path.c_str(), s.path.c_str()) != 0) {
    throw std::runtime_error(s.path.string() + ": cannot rename the finished video into place");
  }
  s.finished = true;
}

std::int64_t VideoFileWriter::frames_written() const {
  return state_->next_video_pts;
}

}  // namespace avqa::media

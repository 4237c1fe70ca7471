#!/usr/bin/python3
"""Checks that emgan model files open in Python and map onto the reference networks.

emgan writes models with torch::save (a TorchScript archive) plus a string attribute
`emgan_model` describing the architecture. This script, run by /usr/bin/python3 with
python3-torch:

  check_python_load.py MODEL [MODEL ...] [--io IO.json ...] [--atol 1e-4]
      opens each MODEL with torch.jit.load, prints its description and parameter count,
      rebuilds the equivalent Python network (pytorch-CycleGAN-and-pix2pix's
      UnetGenerator / ResnetGenerator / NLayerDiscriminator, pix2pixHD's multi-scale
      wrapper, a Keras-style Lawrence et al. 2020 pix2pix), loads the archive's
      state_dict into it with strict=True (so every parameter name and shape must
      match), and, given IO.json ({"input": {"shape", "data"}, "outputs": [{"shape",
      "data"}, ...]} written by the C++ side), runs it in eval mode and compares the
      outputs (the i-th --io belongs to the i-th MODEL). Exit status 0 when everything
      matches, 1 otherwise, 77 when Python has no torch.

  check_python_load.py --reference-counts
      prints, as JSON, the parameter counts of the canonical pix2pix/CycleGAN networks
      built here in Python (the figures tests/models records).
"""
import argparse
import functools
import json
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # exit status 77: "skipped" for the C++ test that runs this
    print("python torch is not available: %s" % e)
    sys.exit(77)


# ---- pytorch-CycleGAN-and-pix2pix networks (models/networks.py), parametrised where
# emgan exposes more options (kernel size, output activation, width cap) -------------

def get_norm_layer(norm_type):
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm_type == "none":
        return lambda x: nn.Identity()
    raise ValueError("normalization layer [%s] is not found" % norm_type)


def output_layers(name):
    if name == "tanh":
        return [nn.Tanh()]
    if name == "sigmoid":
        return [nn.Sigmoid()]
    return []


class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm_layer=nn.BatchNorm2d, use_dropout=False, use_bias=False,
                 kernel=4, dropout=0.5, out_act="tanh"):
        super().__init__()
        self.outermost = outermost
        if input_nc is None:
            input_nc = outer_nc
        pad = (kernel - 1) // 2
        out_pad = 2 + 2 * pad - kernel
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=kernel, stride=2, padding=pad, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=kernel, stride=2, padding=pad,
                                        output_padding=out_pad)
            down = [downconv]
            up = [uprelu, upconv] + output_layers(out_act)
            model = down + [submodule] + up
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=kernel, stride=2, padding=pad,
                                        output_padding=out_pad, bias=use_bias)
            down = [downrelu, downconv]
            up = [uprelu, upconv, upnorm]
            model = down + up
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=kernel, stride=2, padding=pad,
                                        output_padding=out_pad, bias=use_bias)
            down = [downrelu, downconv, downnorm]
            up = [uprelu, upconv, upnorm]
            if use_dropout:
                model = down + [submodule] + up + [nn.Dropout(dropout)]
            else:
                model = down + [submodule] + up
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix UnetGenerator: exactly networks.py for kernel 4, max_mult 8 and the
    dropout placement of pix2pix (the num_downs - 5 middle ngf*8 levels)."""

    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm="batch", use_dropout=False,
                 use_bias=None, kernel=4, out_act="tanh"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        if use_bias is None:  # pix2pix's rule
            use_bias = norm == "instance"
        kw = dict(norm_layer=norm_layer, use_bias=use_bias, kernel=kernel)
        unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=None, innermost=True, **kw)
        for _ in range(num_downs - 5):
            unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=unet_block,
                                                 use_dropout=use_dropout, **kw)
        unet_block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, input_nc=None, submodule=unet_block, **kw)
        unet_block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, input_nc=None, submodule=unet_block, **kw)
        unet_block = UnetSkipConnectionBlock(ngf, ngf * 2, input_nc=None, submodule=unet_block, **kw)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=unet_block,
                                             outermost=True, out_act=out_act, **kw)
        self.num_downs = num_downs

    def forward(self, x):
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer, use_dropout, use_bias, dropout=0.5):
        super().__init__()
        conv_block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                      norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            conv_block += [nn.Dropout(dropout)]
        conv_block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                       norm_layer(dim)]
        self.conv_block = nn.Sequential(*conv_block)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, norm="batch", use_dropout=False, n_blocks=6,
                 n_downsampling=2, use_bias=None, dropout=0.5, out_act="tanh"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        if use_bias is None:
            use_bias = norm == "instance"
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                 norm_layer(ngf), nn.ReLU(True)]
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2), nn.ReLU(True)]
        mult = 2 ** n_downsampling
        for i in range(n_blocks):
            model += [ResnetBlock(ngf * mult, norm_layer, use_dropout, use_bias, dropout)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(int(ngf * mult / 2)), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3)]
        model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        model += output_layers(out_act)
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm="batch", spectral=False, kw=4, use_bias=None):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        if use_bias is None:
            use_bias = norm == "instance"
        sn = nn.utils.spectral_norm if spectral else (lambda m: m)
        padw = (kw - 1) // 2
        sequence = [sn(nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw)), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** n, 8)
            sequence += [sn(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw,
                                      bias=use_bias)),
                         norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        nf_mult_prev = nf_mult
        nf_mult = min(2 ** n_layers, 8)
        sequence += [sn(nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw,
                                  bias=use_bias)),
                     norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        sequence += [sn(nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw))]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return [self.model(x)]


class MultiscaleDiscriminator(nn.Module):
    """pix2pixHD-style: one NLayerDiscriminator per scale, average pooling in between."""

    def __init__(self, n_scales, **kwargs):
        super().__init__()
        self.n_scales = n_scales
        for s in range(n_scales):
            setattr(self, "scale%d" % s, NLayerDiscriminator(**kwargs))

    def forward(self, x):
        out = []
        for s in range(self.n_scales):
            out += getattr(self, "scale%d" % s)(x)
            if s + 1 < self.n_scales:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return out


# ---- Lawrence et al. 2020: the Keras pix2pix (Keras-GAN) in PyTorch ---------------------

def pad_same(x, k, s):
    """TensorFlow padding='same' for a convolution of kernel k and stride s."""
    def amounts(n):
        out = (n + s - 1) // s
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2
    t, b = amounts(x.shape[2])
    l, r = amounts(x.shape[3])
    return F.pad(x, (l, r, t, b))


class KerasBlock(nn.Module):
    """conv ('same') -> activation -> norm, optionally after a 2x nearest upsampling."""

    def __init__(self, cin, cout, k, stride, norm, act, upsample=False, spectral=False, momentum=0.2, eps=1e-3):
        super().__init__()
        conv = nn.Conv2d(cin, cout, k, stride=stride)
        self.conv = nn.utils.spectral_norm(conv) if spectral else conv
        if norm == "batch":
            self.norm = nn.BatchNorm2d(cout, momentum=momentum, eps=eps)
        elif norm == "instance":
            self.norm = nn.InstanceNorm2d(cout, eps=eps)
        self.has_norm = norm != "none"
        self.k, self.stride, self.act, self.upsample = k, stride, act, upsample

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(pad_same(x, self.k, self.stride))
        if self.act == "leaky_relu":
            x = F.leaky_relu(x, 0.2)
        elif self.act == "relu":
            x = F.relu(x)
        elif self.act == "tanh":
            x = torch.tanh(x)
        elif self.act == "sigmoid":
            x = torch.sigmoid(x)
        if self.has_norm:
            x = self.norm(x)
        return x


class Lawrence2020Generator(nn.Module):
    def __init__(self, o):
        super().__init__()
        d = o["depth"]
        ch = [o["ngf"] * min(2 ** i, o["max_mult"]) for i in range(d)]
        self.depth = d
        kw = dict(momentum=o["norm_momentum"], eps=o["norm_eps"])
        for i in range(d):
            setattr(self, "down%d" % i, KerasBlock(o["in_channels"] if i == 0 else ch[i - 1], ch[i], o["down_kernel"],
                                                   2, "none" if i == 0 else o["norm"], "leaky_relu", **kw))
        for j in range(d - 1):
            skip = d - 2 - j
            cin = ch[d - 1] if j == 0 else 2 * ch[skip + 1]
            setattr(self, "up%d" % j, KerasBlock(cin, ch[skip], o["up_kernel"], 1, o["norm"], "relu",
                                                 upsample=True, **kw))
        self.final = KerasBlock(2 * ch[0] if d >= 2 else ch[0], o["out_channels"], o["final_kernel"], 1, "none",
                                o["output_activation"], upsample=True)

    def forward(self, x):
        skips = []
        for i in range(self.depth):
            x = getattr(self, "down%d" % i)(x)
            skips.append(x)
        for j in range(self.depth - 1):
            x = torch.cat([getattr(self, "up%d" % j)(x), skips[self.depth - 2 - j]], 1)
        return self.final(x)


class Lawrence2020Discriminator(nn.Module):
    def __init__(self, o):
        super().__init__()
        self.n = o["n_layers"]
        cin = o["in_channels"]
        kw = dict(momentum=o["norm_momentum"], eps=o["norm_eps"], spectral=o["spectral_norm"])
        for i in range(self.n):
            cout = o["ndf"] * min(2 ** i, 8)
            setattr(self, "layer%d" % i, KerasBlock(cin, cout, o["kernel_size"], 2,
                                                    "none" if i == 0 else o["norm"], "leaky_relu", **kw))
            cin = cout
        self.out = KerasBlock(cin, 1, o["kernel_size"], 1, "none", "none", **kw)

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, "layer%d" % i)(x)
        return [self.out(x)]


# ---- emgan files ------------------------------------------------------------------------

def emgan_bias(norm):
    """emgan gives convolutions a bias unless a batch norm follows (pix2pix only with instance)."""
    return norm != "batch"


def pad_multiple(x, m, min_size=1):
    """emgan's nn::pad_to_multiple (reflection, split evenly, odd pixel at the end)."""
    h, w = x.shape[2], x.shape[3]
    th = (max(h, min_size) + m - 1) // m * m
    tw = (max(w, min_size) + m - 1) // m * m
    top, left = (th - h) // 2, (tw - w) // 2
    t, b, l, r = top, th - h - top, left, tw - w - left
    while t or b or l or r:
        ch, cw = x.shape[2], x.shape[3]
        if ch == 1 or cw == 1:
            x = F.pad(x, (l, r, t, b), mode="replicate")
            break
        st, sb, sl, sr = min(t, ch - 1), min(b, ch - 1), min(l, cw - 1), min(r, cw - 1)
        x = F.pad(x, (sl, sr, st, sb), mode="reflect")
        t, b, l, r = t - st, b - sb, l - sl, r - sr
    return x, (top, left, h, w)


def crop(y, box):
    top, left, h, w = box
    return y[:, :, top:top + h, left:left + w]


class Padded(nn.Module):
    """Runs `net` on the input padded to a multiple, crops back (emgan's generators)."""

    def __init__(self, net, multiple, min_size=1):
        super().__init__()
        self.net, self.multiple, self.min_size = net, multiple, min_size

    def forward(self, x):
        xp, box = pad_multiple(x, self.multiple, self.min_size)
        return [crop(self.net(xp), box)]


def build_reference(info):
    """The Python network equivalent to an emgan model description, and the prefix its
    state_dict keys get (the Padded wrapper adds 'net.')."""
    arch, o = info["arch"], info["options"]
    if arch == "unet":
        levels = o["depth"]
        if o["max_mult"] != 8 or levels < 5:
            raise SystemExit("reference UnetGenerator needs max_mult 8 and depth >= 5, got %r" % o)
        net = UnetGenerator(o["in_channels"], o["out_channels"], levels, o["ngf"], o["norm"],
                            use_dropout=False, use_bias=emgan_bias(o["norm"]), kernel=o["kernel_size"],
                            out_act=o["output_activation"])
        return Padded(net, 2 ** levels), "net."
    if arch == "resnet":
        net = ResnetGenerator(o["in_channels"], o["out_channels"], o["ngf"], o["norm"], o["dropout"] > 0,
                              o["n_blocks"], o["n_downsampling"], use_bias=emgan_bias(o["norm"]),
                              dropout=o["dropout"], out_act=o["output_activation"])
        m = 2 ** o["n_downsampling"]
        return Padded(net, m, 2 * m), "net."
    if arch == "lawrence2020":  # emgan pads more only for batch-norm training on one image
        return Padded(Lawrence2020Generator(o), 2 ** o["depth"]), "net."
    if arch == "patchgan":
        return NLayerDiscriminator(o["in_channels"], o["ndf"], o["n_layers"], o["norm"], o["spectral_norm"],
                                   o["kernel_size"], use_bias=emgan_bias(o["norm"])), ""
    if arch == "multiscale_patchgan":
        p = o["patchgan"]
        return MultiscaleDiscriminator(o["n_scales"], input_nc=p["in_channels"], ndf=p["ndf"], n_layers=p["n_layers"],
                                       norm=p["norm"], spectral=p["spectral_norm"], kw=p["kernel_size"],
                                       use_bias=emgan_bias(p["norm"])), ""
    if arch == "lawrence2020_patchgan":
        return Lawrence2020Discriminator(o), ""
    raise SystemExit("no Python reference for architecture %r" % arch)


def tensor_from(entry):
    return torch.tensor(entry["data"], dtype=torch.float32).reshape(entry["shape"])


def check_file(path, io_path, atol):
    module = torch.jit.load(path, map_location="cpu")
    info = json.loads(module.emgan_model)
    state = {k: v for k, v in module.state_dict().items()}
    n_params = sum(p.numel() for p in module.parameters())
    print("file: %s\nkind: %s\narch: %s\nparameters: %d\ntensors in state_dict: %d"
          % (path, info["kind"], info["arch"], n_params, len(state)))
    net, prefix = build_reference(info)
    missing, unexpected = net.load_state_dict({prefix + k: v for k, v in state.items()}, strict=False)
    if missing or unexpected:
        print("state_dict mismatch: missing %s unexpected %s" % (missing, unexpected))
        return 1
    ref_count = sum(p.numel() for p in net.parameters())
    if ref_count != n_params:
        print("parameter count mismatch: archive %d, reference %d" % (n_params, ref_count))
        return 1
    print("state_dict: every name and shape matches the Python reference")
    if io_path:
        with open(io_path) as f:
            io = json.load(f)
        net.eval()
        with torch.no_grad():
            outputs = net(tensor_from(io["input"]))
        expected = [tensor_from(e) for e in io["outputs"]]
        if len(outputs) != len(expected):
            print("output count %d != expected %d" % (len(outputs), len(expected)))
            return 1
        for i, (got, want) in enumerate(zip(outputs, expected)):
            if got.shape != want.shape:
                print("output %d: shape %s != %s" % (i, tuple(got.shape), tuple(want.shape)))
                return 1
            diff = (got - want).abs().max().item()
            print("output %d: shape %s max |python - c++| = %.3g" % (i, tuple(got.shape), diff))
            if not diff <= atol:
                return 1
    print("ok")
    return 0


def count(net):
    return sum(p.numel() for p in net.parameters())


def reference_counts():
    counts = {
        # pix2pix defaults: --netG unet_256 --norm batch (dropout has no parameters).
        "unet_256_3to3_batch": count(UnetGenerator(3, 3, 8, 64, "batch", use_dropout=True)),
        "unet_256_1to1_batch": count(UnetGenerator(1, 1, 8, 64, "batch", use_dropout=True)),
        "unet_128_3to3_batch": count(UnetGenerator(3, 3, 7, 64, "batch", use_dropout=True)),
        # CycleGAN defaults: --netG resnet_9blocks --norm instance.
        "resnet_9blocks_3to3_instance": count(ResnetGenerator(3, 3, 64, "instance", False, 9)),
        # pix2pix --netD basic on the concatenated RGB pair.
        "patchgan_basic_6_batch": count(NLayerDiscriminator(6, 64, 3, "batch")),
    }
    print(json.dumps(counts, indent=2))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="emgan model files")
    parser.add_argument("--io", action="append", default=[],
                        help="JSON with an input and the outputs emgan computed (one per model, in order)")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest accepted |difference|")
    parser.add_argument("--reference-counts", action="store_true", help="print reference parameter counts")
    args = parser.parse_intermixed_args()
    if args.reference_counts:
        return reference_counts()
    if not args.models:
        parser.error("give model files or --reference-counts")
    if args.io and len(args.io) != len(args.models):
        parser.error("give one --io per model (%d models, %d --io)" % (len(args.models), len(args.io)))
    status = 0
    for i, model in enumerate(args.models):
        if check_file(model, args.io[i] if args.io else None, args.atol) != 0:
            print("FAILED: %s" % model)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

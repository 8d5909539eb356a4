"""The modules: gates and their score modules, MobileNetV2 with gates, gates in ResNet and MobileNetV3 blocks, the
gate checker and chapter 1's worked example. Imports torch and torchvision only."""

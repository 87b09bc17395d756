"""nndb's engine: a from-scratch NumPy neural network whose every op reports itself to a tracer."""
from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import AvgPool2D, Conv2D, Flatten, MaxPool2D
from .errors import DataError, EngineError, ModelFileError, ShapeError
from .gradcheck import GradRow, check_parameters, neuron_entries, relative_error
from .layers import Dense, Dropout, Layer
from .losses import MSE, BinaryCrossEntropy, Loss, SoftmaxCrossEntropy
from .model import History, Parameter, Sequential
from .optim import SGD, Adam, Optimizer
from .recurrent import LSTM, RNN
from .presets import PRESETS, Problem, load_preset
from .serialize import load, save
from .trace import NULL_TRACER, Op, RecordingTracer, Tracer

__all__ = [
    "Sequential", "Dense", "RNN", "LSTM", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Dropout", "Layer",
    "MSE", "SoftmaxCrossEntropy", "BinaryCrossEntropy", "Loss", "SGD", "Adam", "Optimizer",
    "save", "load", "Op", "Tracer", "RecordingTracer", "NULL_TRACER", "Parameter", "History",
    "check_parameters", "neuron_entries", "relative_error", "GradRow", "PRESETS", "Problem",
    "load_preset", "EngineError", "ShapeError", "ModelFileError", "DataError",
    "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten",
]
__version__ = "0.1.0"

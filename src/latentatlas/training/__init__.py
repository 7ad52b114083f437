"""Pieces of the training loop (`latentatlas.train.train_run` puts them together).

    devices      device choice (CUDA, MPS, CPU), threads, torch.distributed set-up
    optim        optimizers and learning-rate schedules
    checkpoint   one atomic safetensors file with weights, optimizer and loop state
    progress     image grids during training, the GIF and the loss curves at the end
"""

// The emulation's runtime (cuda_emulation.h): the block scheduler, shared memory, atomics and
// the CUDA runtime calls the launchers make.
#include "cuda_emulation.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace vfi_emulation
{
namespace
{

std::atomic<Schedule> gSchedule{Schedule::kConcurrent};
thread_local ThreadState tState{};
class Block;
thread_local Block* tBlock = nullptr;
thread_local int tThread = -1;

std::mutex gErrorMutex;
cudaError_t gLastError = cudaSuccess;
std::string gLastMessage;

void record(cudaError_t error, std::string const& message)
{
    std::lock_guard<std::mutex> lock(gErrorMutex);
    if (gLastError == cudaSuccess)
        gLastError = error;
    gLastMessage += (gLastMessage.empty() ? "" : "; ") + message;
}

// Where one thread waits for its turn: a binary semaphore built on a condition variable, because
// libstdc++'s std::binary_semaphore spins before sleeping, which with a hundred threads on two
// cores makes a barrier phase take milliseconds.
class Gate
{
public:
    void open()
    {
        {
            std::lock_guard<std::mutex> lock(mMutex);
            mOpen = true;
        }
        mCondition.notify_one();
    }

    void pass()
    {
        std::unique_lock<std::mutex> lock(mMutex);
        mCondition.wait(lock, [this] { return mOpen; });
        mOpen = false;
    }

private:
    std::mutex mMutex;
    std::condition_variable mCondition;
    bool mOpen = false;
};

// The blocks of one launch, run one after another by the same `threads` OS threads. Every
// thread arrives at each barrier phase either by __syncthreads() or by returning from the
// kernel; a phase ends when every thread still running has arrived. A phase where some threads
// synchronise while others have returned is a divergent __syncthreads, an error in CUDA (it
// hangs or corrupts on the device), reported as a launch failure.
class Block
{
public:
    Block(char const* name, dim3 grid, dim3 block, size_t shared_bytes, Schedule schedule)
        : mName(name)
        , mGrid(grid)
        , mBlockDim(block)
        , mThreads(static_cast<int>(block.x * block.y * block.z))
        , mSharedBytes(shared_bytes)
        , mSchedule(schedule)
        , mBlocks(static_cast<long long>(grid.x) * grid.y * grid.z)
        , mExited(mThreads, false)
        , mArrivedSync(mThreads, false)
    {
        for (int i = 0; i < mThreads; ++i)
            mGo.push_back(std::make_unique<Gate>());
        startBlock();
    }

    bool done() const { return mBlock >= mBlocks; }
    void* shared() { return mShared.get(); }

    // Called by thread `thread` before it runs block mBlock: sets its indices.
    void enter(int thread)
    {
        mGo[thread]->pass();
        if (done())
            return;
        long long const b = mBlock;
        tState.block_idx = uint3{static_cast<unsigned>(b % mGrid.x), static_cast<unsigned>(b / mGrid.x % mGrid.y),
            static_cast<unsigned>(b / mGrid.x / mGrid.y)};
        tState.thread_idx = uint3{static_cast<unsigned>(thread % mBlockDim.x),
            static_cast<unsigned>(thread / mBlockDim.x % mBlockDim.y),
            static_cast<unsigned>(thread / mBlockDim.x / mBlockDim.y)};
        tState.block_dim = mBlockDim;
        tState.grid_dim = mGrid;
    }

    // A barrier arrival: `exiting` when the thread returned from the kernel. Returns when the
    // thread may run again: the next phase (sync) or the next block (exit, then enter()).
    void arrive(int thread, bool exiting)
    {
        {
            std::lock_guard<std::mutex> lock(mMutex);
            (exiting ? mExitsThisPhase : mSyncsThisPhase) += 1;
            if (exiting)
                mExited[thread] = true;
            else
                mArrivedSync[thread] = true;
            int const next = mSchedule == Schedule::kSerial ? nextSerial(thread) : -1;
            if (mSchedule == Schedule::kSerial && next >= 0)
                mGo[next]->open();
            else if (mSyncsThisPhase + mExitsThisPhase == mRunning)
                endPhase();
        }
        if (!exiting)
            mGo[thread]->pass();
    }

private:
    // The next lower-numbered thread that has neither returned nor arrived in this phase.
    int nextSerial(int thread) const
    {
        for (int t = thread - 1; t >= 0; --t)
            if (!mExited[t] && !mArrivedSync[t])
                return t;
        return -1;
    }

    void endPhase()
    {
        if (mSyncsThisPhase > 0 && mExitsThisPhase > 0)
            record(cudaErrorLaunchFailure,
                std::string(mName) + ": divergent __syncthreads() in block " + std::to_string(mBlock) + ": "
                    + std::to_string(mSyncsThisPhase) + " threads wait while " + std::to_string(mExitsThisPhase)
                    + " returned");
        mRunning -= mExitsThisPhase;
        mSyncsThisPhase = mExitsThisPhase = 0;
        std::fill(mArrivedSync.begin(), mArrivedSync.end(), false);
        if (mRunning == 0)
        {
            ++mBlock;
            if (!done())
                startBlock();
            else
                for (auto& go : mGo)
                    go->open(); // every thread leaves its loop
            return;
        }
        release();
    }

    void startBlock()
    {
        mRunning = mThreads;
        std::fill(mExited.begin(), mExited.end(), false);
        mShared.reset();
        if (mSharedBytes > 0)
        {
            // Exactly the launch's size (AddressSanitizer bounds), all bytes 0xFF (a NaN in fp32 and fp16).
            mShared.reset(new unsigned char[mSharedBytes]);
            std::memset(mShared.get(), 0xFF, mSharedBytes);
        }
        release();
    }

    // Lets the threads still running go on: all of them, or in the serial schedule the highest.
    void release()
    {
        for (int t = mThreads - 1; t >= 0; --t)
        {
            if (mExited[t])
                continue;
            mGo[t]->open();
            if (mSchedule == Schedule::kSerial)
                return;
        }
    }

    char const* mName;
    dim3 mGrid, mBlockDim;
    int mThreads;
    size_t mSharedBytes;
    Schedule mSchedule;
    long long mBlocks;
    long long mBlock = 0;

    std::mutex mMutex;
    std::vector<std::unique_ptr<Gate>> mGo;
    std::vector<bool> mExited, mArrivedSync;
    int mRunning = 0;
    int mSyncsThisPhase = 0, mExitsThisPhase = 0;
    std::unique_ptr<unsigned char[]> mShared;
};

} // namespace

void set_schedule(Schedule schedule)
{
    gSchedule = schedule;
}

ThreadState& thread_state()
{
    return tState;
}

void sync_threads()
{
    tBlock->arrive(tThread, false);
}

void* dynamic_shared_memory()
{
    return tBlock->shared();
}

void launch(char const* name, dim3 grid, dim3 block, size_t shared_bytes, KernelBody& body)
{
    // The limits of every GPU the kernels are built for.
    long long const threads = static_cast<long long>(block.x) * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || threads > 1024 || block.z > 64
        || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    {
        record(cudaErrorInvalidConfiguration,
            std::string(name) + ": invalid launch configuration grid (" + std::to_string(grid.x) + ","
                + std::to_string(grid.y) + "," + std::to_string(grid.z) + ") block (" + std::to_string(block.x) + ","
                + std::to_string(block.y) + "," + std::to_string(block.z) + ")");
        return;
    }
    if (shared_bytes > 48 * 1024)
    {
        // More needs cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize), which the launchers never call.
        record(cudaErrorInvalidValue, std::string(name) + ": " + std::to_string(shared_bytes)
                + " bytes of dynamic shared memory exceed the 48 KiB a launch may use without opting in");
        return;
    }
    Block scheduler(name, grid, block, shared_bytes, gSchedule.load());
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(threads));
    for (int t = 0; t < static_cast<int>(threads); ++t)
    {
        workers.emplace_back([&scheduler, &body, t] {
            tBlock = &scheduler;
            tThread = t;
            for (;;)
            {
                scheduler.enter(t);
                if (scheduler.done())
                    break;
                body.run();
                scheduler.arrive(t, true);
            }
            tBlock = nullptr;
        });
    }
    for (std::thread& worker : workers)
        worker.join();
}

std::string take_error_message()
{
    std::lock_guard<std::mutex> lock(gErrorMutex);
    return std::exchange(gLastMessage, std::string());
}

} // namespace vfi_emulation

float atomicAdd(float* address, float value)
{
    return std::atomic_ref<float>(*address).fetch_add(value);
}

// The runtime calls of the launchers, with the signatures of cuda_runtime_api.h. The emulation
// has one device, the host, and one stream on which everything happens at once.
extern "C" cudaError_t cudaGetLastError()
{
    std::lock_guard<std::mutex> lock(vfi_emulation::gErrorMutex);
    cudaError_t const error = vfi_emulation::gLastError;
    vfi_emulation::gLastError = cudaSuccess;
    return error;
}

extern "C" char const* cudaGetErrorString(cudaError_t error)
{
    switch (error)
    {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
    }
}

extern "C" cudaError_t cudaMemsetAsync(void* address, int value, size_t bytes, cudaStream_t /* stream */)
{
    if (bytes > 0 && address == nullptr)
        return cudaErrorInvalidValue;
    std::memset(address, value, bytes);
    return cudaSuccess;
}

extern "C" cudaError_t cudaMallocAsync(void** address, size_t bytes, cudaStream_t /* stream */)
{
    *address = bytes > 0 ? std::malloc(bytes) : nullptr;
    return bytes > 0 && *address == nullptr ? cudaErrorMemoryAllocation : cudaSuccess;
}

extern "C" cudaError_t cudaFreeAsync(void* address, cudaStream_t /* stream */)
{
    std::free(address);
    return cudaSuccess;
}
